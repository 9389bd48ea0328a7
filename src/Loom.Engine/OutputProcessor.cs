using Loom.Engine.Sampling;
using Loom.Models.Architectures;
using Loom.Models.Tokenizers;

namespace Loom.Engine;

/// <summary>
/// Everything that happens to a sequence around a sampled token, one rule each: <c>min_tokens</c> masking before
/// sampling, logprobs of the raw logits, stop tokens and EOS (unless <c>ignore_eos</c>), stop strings,
/// incremental detokenizing, the length limit, and finishing (flushing held-back text, freeing the sequence,
/// completing its request). The n &gt; 1 siblings waiting on a prompt start here from its logits. A failure inside
/// the engine ends its request here too. Runs on the engine thread.
/// </summary>
internal sealed class OutputProcessor(Tokenizer tokenizer, ModelConfig config, Scheduler scheduler, EngineMetrics metrics, IEngineFaults? faults, Action onCompleted)
{
    private readonly float[] _rawLogits = new float[config.VocabSize];
    private readonly float[] _forkLogits = new float[config.VocabSize];
    private readonly float[] _target = new float[config.VocabSize];
    private readonly ulong[] _allowed = new ulong[(config.VocabSize + 63) / 64];
    private readonly int[] _topIds = new int[SamplingParams.MaxLogprobs];
    private readonly float[] _topLogprobs = new float[SamplingParams.MaxLogprobs];
    private TokenLogprob? _logprob;
    private double _logSumExp;

    /// <summary>Requests admitted and not yet finished, by id.</summary>
    public Dictionary<string, Request> InFlight { get; } = [];

    /// <summary>Raised once for each request that fails inside the engine.</summary>
    public event Action<string, Exception>? RequestFailed;

    /// <summary>Whether <paramref name="token"/> ends the sequence: a stop token id, or end-of-generation unless ignored.</summary>
    internal static bool IsStopToken(SamplingParams p, IReadOnlySet<int> endOfGeneration, int token) =>
        (!p.IgnoreEos && endOfGeneration.Contains(token)) || p.StopTokenIds.Contains(token);

    /// <summary>
    /// Before <c>min_tokens</c> tokens exist, the tokens that would end the sequence cannot be drawn (EOS only when
    /// it would end it: with <c>ignore_eos</c> it stays drawable).
    /// </summary>
    internal static void MaskUntilMinTokens(SamplingParams p, IReadOnlySet<int> endOfGeneration, int generated, Span<float> logits)
    {
        if (generated >= p.MinTokens) return;
        if (!p.IgnoreEos) foreach (int id in endOfGeneration) logits[id] = float.NegativeInfinity;
        foreach (int id in p.StopTokenIds) if ((uint)id < (uint)logits.Length) logits[id] = float.NegativeInfinity;
    }

    /// <summary>
    /// Samples <paramref name="seq"/>'s next token from <paramref name="logits"/> (its sampler overwrites them) and
    /// emits it; first, when its prompt was the one its n &gt; 1 siblings waited for, starts each of them from the
    /// same logits. <paramref name="draftToken"/> is the speculated token at this position, if any: drawing it
    /// counts as an accepted draft token before the output that reports it is emitted.
    /// </summary>
    public void SampleAndEmit(Sequence seq, Span<float> logits, int draftToken = -1)
    {
        if (seq.PendingForks is { } forks) StartForks(seq, forks, logits);
        BeforeSampling(seq, logits);
        faults?.At(EngineStage.Sample, seq.Request);
        int token = seq.Sampler.Sample(logits, seq.PromptTokens, seq.OutputTokens);
        if (token == draftToken) seq.Speculation!.CountAccepted();
        Accept(seq, token);
    }

    /// <summary>
    /// Emits <paramref name="seq"/>'s token at a position whose draft token <paramref name="draftToken"/> was drawn
    /// from <paramref name="q"/>: the target's processed distribution from <paramref name="logits"/> (overwritten)
    /// decides by the speculative-sampling rule whether it stands or a token from the residual replaces it.
    /// </summary>
    public void VerifyAndEmit(Sequence seq, Span<float> logits, int draftToken, ReadOnlySpan<float> q)
    {
        BeforeSampling(seq, logits);
        faults?.At(EngineStage.Sample, seq.Request);
        seq.Sampler.Distribution(logits, seq.PromptTokens, seq.OutputTokens, default, _target);
        int token = Speculative.SpeculativeSampling.Verify(_target, q, draftToken, ref seq.Sampler.Rng);
        if (token == draftToken) seq.Speculation!.CountAccepted();
        Accept(seq, token);
    }

    /// <summary>
    /// The parent's prompt is in the cache: its sibling choices take the same blocks (copy-on-write on the
    /// last partial one) and sample their first tokens from the same logits.
    /// </summary>
    private void StartForks(Sequence parent, List<Sequence> forks, Span<float> logits)
    {
        parent.PendingForks = null;
        logits.CopyTo(_forkLogits);
        foreach (var child in forks)
        {
            if (child.Status == SequenceStatus.Finished) continue;
            scheduler.Fork(parent, child);
            if (child.Matcher is { } m && parent.Matcher is { } pm) m.CopyFrom(pm);
            // Sampling masks and scales its logits in place; every child starts from the parent's.
            _forkLogits.CopyTo(logits);
            SampleAndEmit(child, logits);
        }
        _forkLogits.CopyTo(logits);
    }

    /// <summary>
    /// Masks what the sequence's constraint forbids (first, before every other processor), applies <c>min_tokens</c>,
    /// and keeps what logprobs need of the logits, before the sampler overwrites them.
    /// </summary>
    private void BeforeSampling(Sequence seq, Span<float> logits)
    {
        var p = seq.Params;
        if (seq.Matcher is { } matcher)
        {
            Span<ulong> allowed = _allowed;
            if (seq.AllowedReady) { allowed = seq.Allowed; seq.AllowedReady = false; }
            else matcher.FillMask(allowed);
            if (allowed.IndexOfAnyExcept(0UL) < 0)
                throw new InvalidOperationException("no token of this model's vocabulary can continue the constrained output (the constraint needs a character the vocabulary cannot write)");
            ApplyMask(allowed, logits);
            // Where the constraint allows nothing but the end, min_tokens cannot hold it back.
            if (!matcher.IsTerminated) MaskUntilMinTokens(p, tokenizer.EndOfGenerationIds, seq.OutputLength, logits);
        }
        else MaskUntilMinTokens(p, tokenizer.EndOfGenerationIds, seq.OutputLength, logits);
        _logprob = null;
        if (p.Logprobs is not int nTop) return;
        logits.CopyTo(_rawLogits);
        _logSumExp = Logprobs.LogSumExp(_rawLogits);
        int n = Logprobs.TopN(_rawLogits, _logSumExp, _topIds.AsSpan(0, nTop), _topLogprobs.AsSpan(0, nTop));
        var top = new (int, float)[n];
        for (int i = 0; i < n; i++) top[i] = (_topIds[i], _topLogprobs[i]);
        _logprob = new TokenLogprob(-1, 0, top);
    }

    /// <summary>Sets every logit whose bit in <paramref name="allowed"/> is clear to negative infinity.</summary>
    internal static void ApplyMask(ReadOnlySpan<ulong> allowed, Span<float> logits)
    {
        for (int w = 0; w < allowed.Length; w++)
        {
            ulong bits = allowed[w];
            if (bits == ulong.MaxValue) continue;
            int start = w * 64;
            if (start >= logits.Length) break;
            if (bits == 0)
            {
                logits.Slice(start, Math.Min(64, logits.Length - start)).Fill(float.NegativeInfinity);
                continue;
            }
            ulong denied = ~bits;
            while (denied != 0)
            {
                int i = start + System.Numerics.BitOperations.TrailingZeroCount(denied);
                if (i >= logits.Length) break;
                logits[i] = float.NegativeInfinity;
                denied &= denied - 1;
            }
        }
    }

    /// <summary>Appends the sampled token, emits its text, and finishes the sequence when a stop rule or a limit says so.</summary>
    private void Accept(Sequence seq, int token)
    {
        var p = seq.Params;
        if (seq.Matcher is { } matcher && !matcher.AcceptToken(token))
            throw new InvalidOperationException($"token {token} was sampled but its constraint does not allow it");
        var logprob = _logprob is null ? null : _logprob with { TokenId = token, Logprob = Logprobs.LogSoftmaxAt(_rawLogits, token, _logSumExp) };
        seq.Append(token);
        metrics.GenerationTokens++;
        faults?.At(EngineStage.Emit, seq.Request);
        if (seq.OutputLength == 1) metrics.RecordFirstToken(seq.Request);

        FinishReason? finish = null;
        string? stopReason = null;
        ReadOnlyMemory<char> text = default;
        if (IsStopToken(p, tokenizer.EndOfGenerationIds, token))
        {
            finish = FinishReason.Stop;
            stopReason = tokenizer.TokenPiece(token);
        }
        else
        {
            if (seq.Text is { } t)
            {
                text = t.Add(token);
                if (t.StoppedByString) { finish = FinishReason.Stop; stopReason = t.MatchedStop; }
            }
        }
        // The constraint's language allows nothing more: done, without spending a step on end-of-generation.
        if (finish is null && seq.Matcher is { IsTerminated: true }) finish = FinishReason.Stop;
        if (finish is null && (seq.OutputLength >= p.MaxTokens || seq.Length >= config.ContextLength)) finish = FinishReason.Length;

        var tokens = seq.TokenView(seq.Length - 1, 1);
        if (finish is null) seq.Request.Emit(Output(seq, tokens, text, logprob is null ? null : [logprob], null, null));
        else Finish(seq, finish.Value, stopReason, text, tokens, logprob);
    }

    /// <summary>Ends <paramref name="seq"/>: flushes held-back text, frees it, and completes its request when it was the last.</summary>
    public void Finish(Sequence seq, FinishReason reason, string? stopReason, ReadOnlyMemory<char> text = default, ReadOnlyMemory<int> tokens = default, TokenLogprob? logprob = null)
    {
        if (seq.Text is { StoppedByString: false } t && reason is FinishReason.Length or FinishReason.Stop)
        {
            // Release what the decoder and the stop matcher were holding back.
            var rest = t.Flush();
            if (!rest.IsEmpty) text = text.IsEmpty ? rest : string.Concat(text.Span, rest.Span).AsMemory();
        }
        seq.Status = SequenceStatus.Finished;
        seq.FinishReason = reason;
        scheduler.Remove(seq);
        var r = seq.Request;
        r.Emit(Output(seq, tokens, text, logprob is null ? null : [logprob], reason, stopReason));
        if (seq.PendingForks is { } pending)
        {
            // Ended before its prompt was computed: the choices that were to share it end the same way.
            seq.PendingForks = null;
            foreach (var child in pending)
                if (child.Status != SequenceStatus.Finished) Finish(child, reason, stopReason);
        }
        // The last of the request's sequences to finish completes it (finishing one may finish its pending forks first).
        if (!r.IsFinished && r.Sequences.All(s => s.Status == SequenceStatus.Finished))
        {
            Complete(r);
            metrics.RecordFinished(r);
            r.Complete();
        }
    }

    /// <summary>Ends every unfinished sequence of the request, if it is still in flight, with <see cref="FinishReason.Abort"/>.</summary>
    public void Abort(string requestId)
    {
        if (!InFlight.TryGetValue(requestId, out var r)) return;
        foreach (var seq in r.Sequences)
            if (seq.Status != SequenceStatus.Finished) Finish(seq, FinishReason.Abort, null);
        metrics.Aborted++;
    }

    /// <summary>
    /// Ends <paramref name="r"/> with <see cref="FinishReason.Error"/>: every sequence's blocks are freed, the
    /// request completes and leaves the queue, and <see cref="RequestFailed"/> is raised once. Safe whatever state
    /// the failure left the request in (no sequences yet, some finished, a half-emitted token).
    /// </summary>
    public void Fail(Request r, Exception e)
    {
        if (r.IsFinished) return;
        foreach (var seq in r.Sequences.ToArray())
        {
            if (seq.Status == SequenceStatus.Finished) continue;
            try { Finish(seq, FinishReason.Error, e.Message); }
            catch (Exception)
            {
                seq.Status = SequenceStatus.Finished;
                seq.FinishReason = FinishReason.Error;
                try { scheduler.Remove(seq); } catch (Exception) { /* freeing is best effort once state is broken */ }
            }
        }
        if (!r.IsFinished)
        {
            // No sequence existed yet, or finishing them did not complete the request.
            Complete(r);
            for (int i = 0; i < r.Params.N; i++)
                if (!r.Sequences.Any(q => q.Index == i && q.FinishReason is not null))
                    r.Emit(new RequestOutput
                    {
                        RequestId = r.Id, Index = i, FinishReason = FinishReason.Error,
                        StopReason = e.Message, PromptTokens = r.Prompt.Length,
                    });
            r.Complete();
        }
        metrics.Failed++;
        RequestFailed?.Invoke(r.Id, e);
    }

    /// <summary>Fails every request in flight (the shared state they depend on cannot be trusted).</summary>
    public void FailAll(Exception e)
    {
        foreach (var r in InFlight.Values.ToArray()) Fail(r, e);
    }

    /// <summary>Takes a finished request out of flight; its output channel is completed by the caller, after its last output.</summary>
    private void Complete(Request r)
    {
        r.IsFinished = true;
        InFlight.Remove(r.Id);
        onCompleted();
    }

    private static RequestOutput Output(Sequence seq, ReadOnlyMemory<int> tokens, ReadOnlyMemory<char> text, TokenLogprob[]? logprobs, FinishReason? reason, string? stopReason) => new()
    {
        RequestId = seq.Request.Id,
        Index = seq.Index,
        TokenIds = tokens,
        Delta = text,
        Logprobs = logprobs,
        FinishReason = reason,
        StopReason = stopReason,
        PromptTokens = seq.PromptLength,
        CachedPromptTokens = seq.CachedPromptTokens,
        CompletionTokens = seq.OutputLength,
        SpeculativeDraftTokens = seq.Speculation?.Proposed ?? 0,
        SpeculativeAcceptedTokens = seq.Speculation?.Accepted ?? 0,
    };
}
