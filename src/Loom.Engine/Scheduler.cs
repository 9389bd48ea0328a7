namespace Loom.Engine;

/// <summary>A run of one sequence's tokens scheduled for this step.</summary>
public readonly record struct ScheduledChunk(Sequence Seq, int Start, int Count)
{
    /// <summary>True when this chunk reaches the end of the sequence's tokens, so its last logits get sampled.</summary>
    public bool Samples => Start + Count == Seq.Length;
}

/// <summary>
/// Iteration-level scheduling (Orca), with chunked prefill (Sarathi): every step first gives each running
/// sequence what it needs (one decode token, or its next prefill chunk), then admits waiting requests' prompt
/// chunks while the token budget, the sequence limit and the free KV blocks allow. When blocks run out, the
/// newest running sequence is preempted: its blocks are freed and it is recomputed later.
/// </summary>
public sealed class Scheduler(EngineOptions options, BlockManager blocks, int contextLength)
{
    private readonly List<Sequence> _waiting = [];
    private readonly List<Sequence> _running = [];
    private readonly List<ScheduledChunk> _chunks = [];

    public int WaitingCount => _waiting.Count;
    public int RunningCount => _running.Count;
    public long Preemptions { get; private set; }
    public IReadOnlyList<Sequence> Running => _running;
    public IReadOnlyList<Sequence> Waiting => _waiting;

    /// <summary>Queues a sequence: by priority (lower first), then arrival.</summary>
    public void Add(Sequence seq)
    {
        int i = _waiting.Count;
        while (i > 0 && _waiting[i - 1].Request.Priority > seq.Request.Priority) i--;
        _waiting.Insert(i, seq);
    }

    /// <summary>Removes a finished or aborted sequence and frees its blocks.</summary>
    public void Remove(Sequence seq)
    {
        if (!_running.Remove(seq)) _waiting.Remove(seq);
        blocks.Free(seq);
    }

    /// <summary>Chooses this step's work. The returned list is reused by the next call.</summary>
    public IReadOnlyList<ScheduledChunk> Schedule()
    {
        _chunks.Clear();
        int budget = options.MaxNumBatchedTokens;

        // Running sequences first, oldest first; preempt from the newest end when blocks run out.
        for (int i = 0; i < _running.Count && budget > 0; i++)
        {
            var seq = _running[i];
            int want = Math.Min(seq.Length - seq.ComputedTokens, budget);
            if (want <= 0) continue;
            while (!blocks.Grow(seq, seq.ComputedTokens + want))
            {
                var victim = _running[^1];
                Preempt(victim);
                if (victim == seq) { want = 0; break; }
            }
            if (want == 0) break;
            _chunks.Add(new ScheduledChunk(seq, seq.ComputedTokens, want));
            budget -= want;
        }

        // Then waiting sequences, in order, while they fit.
        while (_waiting.Count > 0 && budget > 0 && _running.Count < options.MaxNumSeqs)
        {
            var seq = _waiting[0];
            if (seq.ComputedTokens == 0 && seq.BlockCount == 0)
            {
                int reused = blocks.MatchPrefix(seq);
                seq.ComputedTokens = reused;
                if (seq.CachedPromptTokens == 0) seq.CachedPromptTokens = Math.Min(reused, seq.PromptLength);
            }
            int remaining = seq.Length - seq.ComputedTokens;
            if (!options.ChunkedPrefill && remaining > budget)
            {
                // Without chunking a prompt runs whole; one larger than the whole budget runs alone.
                if (_chunks.Count > 0) break;
            }
            int want = options.ChunkedPrefill ? Math.Min(remaining, budget) : remaining;
            if (!blocks.Grow(seq, seq.ComputedTokens + want))
            {
                // Out of blocks: try a smaller chunk that fits, else wait for running sequences to finish.
                int fit = (seq.BlockCount + blocks.AvailableBlocks) * blocks.BlockSize - seq.ComputedTokens;
                if (!options.ChunkedPrefill || fit <= 0 || !blocks.Grow(seq, seq.ComputedTokens + fit))
                {
                    if (_running.Count == 0 && _chunks.Count == 0 && blocks.UsedBlocks == seq.BlockCount)
                        throw new InvalidOperationException($"the KV cache ({blocks.NumBlocks} blocks of {blocks.BlockSize}) cannot hold one sequence of {seq.Length} tokens");
                    break;
                }
                want = fit;
            }
            _waiting.RemoveAt(0);
            seq.Status = SequenceStatus.Running;
            _running.Add(seq);
            _chunks.Add(new ScheduledChunk(seq, seq.ComputedTokens, want));
            budget -= want;
        }
        return _chunks;
    }

    private void Preempt(Sequence seq)
    {
        _running.Remove(seq);
        for (int i = _chunks.Count - 1; i >= 0; i--)
            if (_chunks[i].Seq == seq) _chunks.RemoveAt(i);
        blocks.Free(seq);
        seq.ComputedTokens = 0;
        seq.Status = SequenceStatus.Waiting;
        seq.Preemptions++;
        Preemptions++;
        _waiting.Insert(0, seq);
    }

    /// <summary>Largest sequence length the engine accepts.</summary>
    public int ContextLength => contextLength;
}
