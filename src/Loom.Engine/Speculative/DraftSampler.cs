using Loom.Engine.Sampling;

namespace Loom.Engine.Speculative;

/// <summary>
/// Turns a model-based proposer's logits into its draft tokens. For a request that samples (and
/// <see cref="DraftSampling.Sample"/>), draft token j is drawn, with the sequence's own generator, from q_j: the
/// draft logits through the sequence's own pipeline (min_tokens masking, penalties over the output so far and the
/// draft tokens before j, temperature, top-k/p, min-p), whose full vector is kept in this step's rows for
/// verification (<see cref="SpeculativeSampling"/>). Greedy requests and <see cref="DraftSampling.Greedy"/> take
/// the argmax, a point mass. The rows are one buffer sized once for the most draft tokens a step can verify, so
/// drafting allocates nothing in the step loop.
/// </summary>
internal sealed class DraftSampler(DraftSampling mode, int vocab, int maxRows, IReadOnlySet<int> endOfGeneration)
{
    private float[] _q = [];
    private int _rows;

    /// <summary>Starts a step: its rows are free again (the last step's verifications are done).</summary>
    public void BeginStep() => _rows = 0;

    /// <summary>Draft distribution <paramref name="row"/> of this step, by token id.</summary>
    public ReadOnlySpan<float> Row(int row) => _q.AsSpan(row * vocab, vocab);

    /// <summary>Sets draft token <paramref name="j"/> of <paramref name="seq"/> from the draft's raw <paramref name="logits"/> (overwritten).</summary>
    public void Pick(Sequence seq, int j, Span<float> logits)
    {
        var state = seq.Speculation!;
        if (mode == DraftSampling.Greedy || seq.Params.IsGreedy || _rows >= maxRows)
        {
            state.SetDraft(j, Sampler.ArgMax(logits));
            return;
        }
        if (_q.Length == 0) _q = new float[(long)maxRows * vocab <= Array.MaxLength ? maxRows * vocab : throw new InvalidOperationException("too many draft rows")];
        OutputProcessor.MaskUntilMinTokens(seq.Params, endOfGeneration, seq.OutputLength + j, logits);
        var q = _q.AsSpan(_rows * vocab, vocab);
        try
        {
            seq.Sampler.Distribution(logits, seq.PromptTokens, seq.OutputTokens, state.Draft[..j], q);
        }
        catch (NoSamplableTokenException)
        {
            // The draft allows nothing the target's pipeline would: any point mass is verified exactly.
            state.SetDraft(j, Sampler.ArgMax(logits));
            return;
        }
        state.SetDraft(j, SpeculativeSampling.Draw(q, seq.Sampler.Rng.NextDouble()), _rows++);
    }
}
