namespace Loom.Engine;

/// <summary>
/// A run of one sequence's tokens scheduled for this step. A speculative chunk is a decode followed by
/// <paramref name="Draft"/> proposed tokens (counted in <paramref name="Count"/>), every one of which returns logits.
/// </summary>
public readonly record struct ScheduledChunk(Sequence Seq, int Start, int Count, int Draft = 0)
{
    /// <summary>True when this chunk reaches the end of the sequence's tokens, so its last logits get sampled.</summary>
    public bool Samples => Start + Count - Draft == Seq.Length;
    /// <summary>Logits rows the chunk returns: one per token of a speculative chunk, else one when it samples.</summary>
    public int LogitRows => Draft > 0 ? Count : Samples ? 1 : 0;
}

/// <summary>
/// One step's plan: the chunks to run (in order), the sequences preempted to make room (back in the waiting queue,
/// blocks freed), and those that overflowed (the whole KV cache cannot hold their next token even alone; removed
/// from the running set with their blocks kept, for the engine to finish). Reused by the next
/// <see cref="Scheduler.Schedule"/>.
/// </summary>
public sealed class SchedulePlan
{
    internal readonly List<ScheduledChunk> ChunkList = [];
    internal readonly List<Sequence> PreemptedList = [];
    internal readonly List<Sequence> OverflowedList = [];

    public IReadOnlyList<ScheduledChunk> Chunks => ChunkList;
    public IReadOnlyList<Sequence> Preempted => PreemptedList;
    public IReadOnlyList<Sequence> Overflowed => OverflowedList;
}

/// <summary>
/// Iteration-level scheduling (Orca), with chunked prefill (Sarathi): every step first gives each running
/// sequence that is decoding its one token, then running prefills their next chunk, then admits waiting
/// requests' prompt chunks while the token budget, the sequence limit and the free KV blocks allow. When blocks
/// run out, the newest running sequence is preempted: its blocks are freed and it is recomputed later.
/// Waiting sequences run by priority (lower first), then arrival (FCFS). It owns each sequence's progress: only it
/// (and the <see cref="BlockManager"/> it drives) moves <see cref="Sequence.ComputedTokens"/> and block tables.
/// </summary>
public sealed class Scheduler(EngineOptions options, BlockManager blocks)
{
    private readonly List<Sequence> _waiting = [];
    private readonly List<Sequence> _running = [];
    private readonly SchedulePlan _plan = new();
    private int _budget;

    public int WaitingCount => _waiting.Count;
    public int RunningCount => _running.Count;
    public long Preemptions { get; private set; }
    public IReadOnlyList<Sequence> Running => _running;
    /// <summary>Called when a sequence gives up its blocks, by finishing or by preemption (a draft model's cache frees its own then).</summary>
    internal Action<Sequence>? Released { get; set; }

    /// <summary>Queues a sequence: by priority (lower first), then arrival.</summary>
    public void Add(Sequence seq)
    {
        int i = _waiting.Count;
        while (i > 0 && _waiting[i - 1].Request.Priority > seq.Request.Priority) i--;
        _waiting.Insert(i, seq);
    }

    /// <summary>
    /// Starts <paramref name="child"/> from <paramref name="parent"/>'s computed prompt: it shares the parent's
    /// blocks (copy-on-write on the last partial one) and runs from the next step.
    /// </summary>
    public void Fork(Sequence parent, Sequence child)
    {
        blocks.Fork(parent, child);
        child.CachedPromptTokens = parent.CachedPromptTokens;
        child.Status = SequenceStatus.Running;
        _running.Add(child);
    }

    /// <summary>
    /// Records that <paramref name="chunk"/> ran: its tokens are in the cache, and the blocks they filled join the
    /// prefix cache; blocks that fell out of every sliding layer's window go back to their pool. Call once per chunk
    /// after the forward pass.
    /// </summary>
    public void Advance(ScheduledChunk chunk)
    {
        chunk.Seq.ComputedTokens += chunk.Count;
        blocks.CommitFullBlocks(chunk.Seq);
        blocks.ReleaseOutOfWindow(chunk.Seq);
    }

    /// <summary>
    /// Records that a speculative chunk ran and <paramref name="accepted"/> of its draft tokens were accepted (and
    /// appended to the sequence): only the last token and those are in the cache. The rejected ones' slots are
    /// rolled back: blocks past what the next token needs are released, and since the computed count stops before
    /// them, a block holding a rejected token is never hashed into the prefix cache; the slots left in the kept last
    /// block are overwritten by the next write (K/V rows and, in an int8 cache, their per-slot scales alike).
    /// </summary>
    public void Advance(ScheduledChunk chunk, int accepted)
    {
        if (accepted < 0 || accepted > chunk.Draft) throw new ArgumentOutOfRangeException(nameof(accepted));
        var seq = chunk.Seq;
        seq.ComputedTokens += chunk.Count - chunk.Draft + accepted;
        blocks.Truncate(seq, seq.ComputedTokens + 1);
        blocks.CommitFullBlocks(seq);
        blocks.ReleaseOutOfWindow(seq);
    }

    /// <summary>Removes a finished or aborted sequence and frees its blocks.</summary>
    public void Remove(Sequence seq)
    {
        if (!_running.Remove(seq)) _waiting.Remove(seq);
        blocks.Free(seq);
        Released?.Invoke(seq);
    }

    /// <summary>Chooses this step's work. The returned plan is reused by the next call.</summary>
    public SchedulePlan Schedule()
    {
        _plan.ChunkList.Clear();
        _plan.OverflowedList.Clear();
        _plan.PreemptedList.Clear();
        _budget = options.MaxNumBatchedTokens;

        // Decodes first, oldest first, so generation never stalls behind prompts.
        for (int i = 0; i < _running.Count && _budget > 0; i++)
        {
            var seq = _running[i];
            // Preemption takes the newest first, so a sequence that loses its place has nothing newer behind it.
            if (seq.Length - seq.ComputedTokens == 1 && !Reserve(seq, 1, FitDraft(seq))) break;
        }

        // Then running prefills' next chunks.
        for (int i = 0; i < _running.Count && _budget > 0; i++)
        {
            var seq = _running[i];
            int remaining = seq.Length - seq.ComputedTokens;
            if (remaining <= 1) continue;
            if (!options.ChunkedPrefill && remaining > _budget && _plan.ChunkList.Count > 0) continue;
            int want = options.ChunkedPrefill ? Math.Min(remaining, _budget) : remaining;
            if (!Reserve(seq, want)) break;
        }

        // Then waiting sequences, in order, while they fit.
        while (_waiting.Count > 0 && _budget > 0)
        {
            var seq = _waiting[0];
            int forks = seq.PendingForks?.Count ?? 0;
            if (_running.Count > 0 && _running.Count + 1 + forks > options.MaxNumSeqs) break;
            if (seq.ComputedTokens == 0 && seq.BlockCount == 0)
            {
                int reused = blocks.MatchPrefix(seq);
                seq.ComputedTokens = reused;
                if (seq.CachedPromptTokens == 0) seq.CachedPromptTokens = Math.Min(reused, seq.PromptLength);
            }
            int remaining = seq.Length - seq.ComputedTokens;
            // Without chunking a prompt runs whole; one larger than the whole budget runs alone.
            if (!options.ChunkedPrefill && remaining > _budget && _plan.ChunkList.Count > 0) { Unmatch(seq); break; }
            int want = options.ChunkedPrefill ? Math.Min(remaining, _budget) : remaining;
            if (!blocks.Grow(seq, seq.ComputedTokens + want))
            {
                // Out of blocks: a chunked prefill takes the part that fits, else the sequence waits for blocks.
                int fit = blocks.GrowableTokens(seq) - seq.ComputedTokens;
                if (!options.ChunkedPrefill || fit <= 0 || !blocks.Grow(seq, seq.ComputedTokens + fit))
                {
                    Unmatch(seq);
                    if (_running.Count == 0 && _plan.ChunkList.Count == 0 && blocks.UsedBlocks == 0)
                    {
                        // Nothing else holds blocks, yet it does not fit: it never will.
                        _waiting.RemoveAt(0);
                        _plan.OverflowedList.Add(seq);
                        continue;
                    }
                    break;
                }
                want = fit;
            }
            _waiting.RemoveAt(0);
            seq.Status = SequenceStatus.Running;
            _running.Add(seq);
            _plan.ChunkList.Add(new ScheduledChunk(seq, seq.ComputedTokens, want));
            _budget -= want;
        }
        return _plan;
    }

    /// <summary>
    /// Secures blocks for <paramref name="want"/> more tokens of a running sequence and schedules them, preempting
    /// the newest running sequences while blocks are short. False when the sequence itself was preempted (or overflowed).
    /// </summary>
    private bool Reserve(Sequence seq, int want, int draft = 0)
    {
        want += draft;
        while (!blocks.Grow(seq, seq.ComputedTokens + want))
        {
            if (_running.Count == 1)
            {
                // Alone and still out of blocks: the cache can never hold this sequence's next tokens.
                _running.Remove(seq);
                RemoveChunks(seq);
                _plan.OverflowedList.Add(seq);
                return false;
            }
            var victim = _running[^1];
            Preempt(victim);
            if (victim == seq) return false;
        }
        _plan.ChunkList.Add(new ScheduledChunk(seq, seq.ComputedTokens, want, draft));
        _budget -= want;
        return true;
    }

    /// <summary>
    /// How much of a decoding sequence's draft runs this step: what the token budget leaves after its own token,
    /// and none when its blocks would have to come from preempting others (speculation never evicts a sequence).
    /// </summary>
    private int FitDraft(Sequence seq)
    {
        int draft = Math.Min(seq.Speculation?.DraftCount ?? 0, _budget - 1);
        return draft > 0 && blocks.CanGrow(seq, seq.ComputedTokens + 1 + draft) ? draft : 0;
    }

    /// <summary>Gives back the prefix blocks a waiting sequence matched but could not use this step, so it holds nothing while it waits.</summary>
    private void Unmatch(Sequence seq)
    {
        if (seq.BlockCount == 0) return;
        blocks.Free(seq);
        seq.ComputedTokens = 0;
    }

    private void RemoveChunks(Sequence seq)
    {
        for (int i = _plan.ChunkList.Count - 1; i >= 0; i--)
            if (_plan.ChunkList[i].Seq == seq) { _budget += _plan.ChunkList[i].Count; _plan.ChunkList.RemoveAt(i); }
    }

    private void Preempt(Sequence seq)
    {
        _running.Remove(seq);
        RemoveChunks(seq);
        blocks.Free(seq);
        Released?.Invoke(seq);
        seq.ComputedTokens = 0;
        seq.Status = SequenceStatus.Waiting;
        Preemptions++;
        _plan.PreemptedList.Add(seq);
        _waiting.Insert(0, seq);
    }
}
