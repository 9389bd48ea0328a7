using Loom.Models.Architectures;

namespace Loom.Engine.Speculative;

/// <summary>
/// A separate, smaller draft model with the target's vocabulary guesses the next tokens (each picked by
/// <see cref="DraftSampler"/>). It keeps its own paged KV cache
/// and block manager: each speculating sequence has a shadow sequence there holding its draft blocks, caught up on
/// the sequence's new tokens (its prompt at first) in the first draft pass of a step, then one pass per further
/// draft position. After verification the draft cache keeps the positions whose tokens were accepted; the rest are
/// overwritten by the next catch-up. The shadow's blocks are freed when its sequence finishes or is preempted.
/// </summary>
internal sealed class DraftModelDrafter : IDisposable
{
    private readonly Transformer _model;
    private readonly KvCache _cache;
    private readonly BlockManager _blocks;
    private readonly ForwardBatch _batch = new();
    private readonly Core.Threading.ComputePool _pool;
    private readonly AttentionPolicy? _attention;
    private float[] _logits = [];
    private long _nextShadowId = -1;

    public DraftModelDrafter(Transformer model, int targetVocab, int numBlocks, int blockSize, Core.Threading.ComputePool pool, AttentionPolicy? attention)
    {
        if (model.Config.VocabSize != targetVocab)
            throw new ArgumentException($"the draft model's vocabulary ({model.Config.VocabSize} tokens) differs from the target's ({targetVocab})");
        _model = model;
        var c = model.Config;
        _cache = KvCache.For(c, numBlocks, blockSize);
        _blocks = new BlockManager(numBlocks, blockSize, prefixCaching: false);
        _pool = pool;
        _attention = attention;
    }

    /// <summary>Bytes of the draft cache (counted in the engine's KV budget, see <see cref="ModelRunner.CacheBlocks"/>).</summary>
    public long CacheBytes => _cache.TotalBytes;

    /// <summary>Draft blocks in use (for tests: every one is freed with its sequence).</summary>
    public int UsedBlocks => _blocks.UsedBlocks;

    /// <summary>Gives a speculating sequence its shadow at admission, so that drafting allocates nothing in the step loop.</summary>
    public void Admit(Sequence seq)
    {
        if (seq.Speculation is { } state) state.DraftShadow = new Sequence(_nextShadowId--, seq.Request, seq.Index, [], seq.Sampler, null);
    }

    /// <summary>Fills the draft tokens of this step's speculative chunks.</summary>
    public void Fill(IReadOnlyList<ScheduledChunk> chunks, DraftSampler picker)
    {
        int vocab = _model.Config.VocabSize, rounds = 0;
        for (int i = 0; i < chunks.Count; i++)
        {
            var c = chunks[i];
            if (c.Draft == 0) continue;
            var state = c.Seq.Speculation!;
            var shadow = state.DraftShadow!;
            // Room for the catch-up and every draft position but the last (whose K/V no pass needs).
            if (!_blocks.Grow(shadow, c.Start + c.Draft))
            {
                // The draft cache is full: this sequence drafts from scratch next time; now its draft repeats its
                // last token, which verification will most likely reject (the output is right either way).
                Release(c.Seq);
                for (int j = 0; j < c.Draft; j++) state.SetDraft(j, c.Seq.Tokens[^1]);
                continue;
            }
            rounds = Math.Max(rounds, c.Draft);
        }
        for (int r = 0; r < rounds; r++)
        {
            _batch.Clear();
            for (int i = 0; i < chunks.Count; i++)
            {
                var c = chunks[i];
                if (c.Draft <= r || c.Seq.Speculation!.DraftShadow is not { BlockCount: > 0 } shadow) continue;
                if (r == 0) _batch.Add(c.Seq.Tokens[shadow.ComputedTokens..], shadow.ComputedTokens, shadow.BlockArray, LogitRequest.Last);
                else _batch.Add(c.Seq.Speculation!.VerifyTokens(r)[r..], c.Start + r, shadow.BlockArray, LogitRequest.Last);
            }
            int need = _batch.LogitCount * vocab;
            if (_logits.Length < need) _logits = new float[Math.Max(need, 2 * _logits.Length)];
            _model.Forward(_batch, _cache, _logits, _pool, _attention);
            int row = 0;
            for (int i = 0; i < chunks.Count; i++)
            {
                var c = chunks[i];
                if (c.Draft <= r || c.Seq.Speculation!.DraftShadow is not { BlockCount: > 0 } shadow) continue;
                if (r == 0) shadow.ComputedTokens = c.Start + 1;
                else shadow.ComputedTokens++;
                picker.Pick(c.Seq, r, _logits.AsSpan(row++ * vocab, vocab));
            }
        }
    }

    /// <summary>After verification: the draft cache keeps the positions whose tokens the target accepted.</summary>
    public void Accepted(Sequence seq, int start, int accepted)
    {
        if (seq.Speculation?.DraftShadow is { } shadow) shadow.ComputedTokens = Math.Min(shadow.ComputedTokens, start + 1 + accepted);
    }

    /// <summary>Frees the sequence's draft blocks (it finished or was preempted).</summary>
    public void Release(Sequence seq)
    {
        if (seq.Speculation?.DraftShadow is not { } shadow) return;
        _blocks.Free(shadow);
        shadow.ComputedTokens = 0;
    }

    public void Dispose() => _cache.Dispose();
}
