using Loom.Core.Threading;
using Loom.Models.Architectures;

namespace Loom.Engine;

/// <summary>
/// Turns a step's scheduled chunks into one ragged <see cref="ForwardBatch"/>, runs the model once for all of
/// them, and exposes the logits of the chunks that end their sequence (those get a token sampled). It creates and
/// owns the KV cache and the compute pool its forward passes run on (its own when the options name a thread count,
/// so two engines in one process never share one).
/// </summary>
public sealed class ModelRunner : IDisposable
{
    private readonly ForwardBatch _batch = new();
    private readonly ComputePool _pool;
    private readonly bool _ownsPool;
    private readonly AttentionPolicy _attention;
    private float[] _logits = [];

    public ModelRunner(Transformer model, EngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Model = model;
        _attention = options.Attention ?? AttentionPolicy.Default;
        Cache = CreateCache(model.Config, options, out var pools);
        Pools = pools;
        if (options.Threads is int t) { _pool = new ComputePool(Math.Max(1, t)); _ownsPool = true; }
        else _pool = ComputePool.Shared;
    }

    public Transformer Model { get; }
    /// <summary>The pool its passes run on (a draft model's passes share it).</summary>
    internal ComputePool Pool => _pool;
    /// <summary>The attention policy its passes follow.</summary>
    internal AttentionPolicy Attention => _attention;
    public KvCache Cache { get; }
    /// <summary>The blocks of its pools (the full pool's count also sizes a draft model's cache).</summary>
    public KvPoolSizes Pools { get; }
    /// <summary>Threads a forward pass runs on, the engine loop's included.</summary>
    public int Threads => _pool.Threads;
    public int VocabSize => Model.Config.VocabSize;
    /// <summary>Tokens in the last <see cref="Run"/>'s batch.</summary>
    public int LastTokenCount => _batch.TokenCount;
    /// <summary>Tokens run through the model since start (prefill and decode).</summary>
    public long TokensComputed { get; private set; }

    /// <summary>
    /// Runs the chunks; afterwards <see cref="Logits"/>(i) holds the i-th logits row, in chunk order: one for a
    /// chunk that samples, one per token of a speculative chunk (<see cref="ScheduledChunk.LogitRows"/>).
    /// </summary>
    public void Run(IReadOnlyList<ScheduledChunk> chunks)
    {
        _batch.Clear();
        for (int i = 0; i < chunks.Count; i++)
        {
            var c = chunks[i];
            int[]? second = Cache.Groups > 1 ? c.Seq.TableArray(1) : null;
            if (c.Draft > 0) _batch.Add(c.Seq.Speculation!.VerifyTokens(c.Draft), c.Start, c.Seq.BlockArray, second, LogitRequest.All, asDecodes: true);
            else _batch.Add(c.Seq.Tokens.Slice(c.Start, c.Count), c.Start, c.Seq.BlockArray, second, c.Samples ? LogitRequest.Last : LogitRequest.None);
        }
        int need = _batch.LogitCount * VocabSize;
        // Doubling: verification rows make the count vary from step to step, and a steady state must stop allocating.
        if (_logits.Length < need) _logits = new float[Math.Max(need, 2 * _logits.Length)];
        Model.Forward(_batch, Cache, _logits, _pool, _attention);
        TokensComputed += _batch.TokenCount;
    }

    /// <summary>
    /// A pass through only the first <paramref name="layers"/> layers (self-drafting) over this runner's cache and
    /// pool; it writes those layers' K/V for the batch's positions, and logits to <paramref name="logits"/>.
    /// </summary>
    public void RunLayers(ForwardBatch batch, Span<float> logits, int layers) => Model.Forward(batch, Cache, logits, _pool, _attention, layers);

    /// <summary>The <paramref name="i"/>-th logits row of the last <see cref="Run"/>.</summary>
    public Span<float> Logits(int i) => _logits.AsSpan(i * VocabSize, VocabSize);

    private static KvCache CreateCache(ModelConfig c, EngineOptions options, out KvPoolSizes pools)
    {
        pools = PoolSizes(c, options);
        return KvCache.For(c, Math.Max(1, pools.Full), options.BlockSize, options.KvCacheDtype, pools.Sliding);
    }

    /// <summary>
    /// Blocks of the target's cache: what the engine can use (the context × a few sequences, or
    /// <see cref="EngineOptions.MaxKvTokens"/>) within the memory budget, never from the claimed context alone.
    /// With a draft model the budget covers both caches: the draft cache has as many blocks as the target's (a
    /// draft shadow holds as many tokens as its sequence), so a block's cost is the target's block plus the draft's
    /// (f16) block, and each cache takes its share of the budget in proportion to its bytes per token. This is the
    /// full-attention pool's count (<see cref="PoolSizes"/>).
    /// </summary>
    public static int CacheBlocks(ModelConfig c, EngineOptions options) => PoolSizes(c, options).Full;

    /// <summary>
    /// How the budget splits between the pools. Without a sliding pool, <see cref="CacheBlocks"/>'s rule. With one
    /// (a model whose sliding window is shorter than its context, and <see cref="EngineOptions.SlidingWindowPool"/>),
    /// the sliding layers' pool needs only what the running sequences' windows and one step's new tokens occupy:
    /// per sequence the window's blocks and two partial ones, plus the step's token budget (a whole prompt's
    /// blocks without chunked prefill), or <see cref="EngineOptions.SlidingKvBlocks"/>; the full-attention layers
    /// (and a draft model's cache) take the rest, block for block as before. A sliding pool never outgrows the
    /// full one. When every layer slides there is no full pool (Full counts only the draft cache's blocks then).
    /// </summary>
    public static KvPoolSizes PoolSizes(ModelConfig c, EngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int bs = options.BlockSize;
        long budget = options.KvCacheBytes ?? (long)(options.KvCacheFraction * KvCacheBudget.AvailableMemoryBytes());
        long maxTokens = options.MaxKvTokens ?? (long)c.ContextLength * Math.Min(options.MaxNumSeqs, 8);
        long maxBlocks = Math.Min((maxTokens + bs - 1) / bs, int.MaxValue / bs);
        bool split = options.SlidingWindowPool && c.SlidingWindow > 0 && c.SlidingWindow < c.ContextLength && !c.CacheKeysOnly;
        long slidingBlockBytes = split ? KvCache.SlidingBytesPerToken(c, options.KvCacheDtype) * bs : 0;
        long targetFullBytes = KvCache.BytesPerToken(c, options.KvCacheDtype) * bs - slidingBlockBytes;
        long fullBlockBytes = targetFullBytes + DraftBytesPerToken(options) * bs;
        if (!split)
        {
            long blocks = Math.Min(budget / fullBlockBytes, maxBlocks);
            if (blocks < 1) throw new ArgumentException($"KV cache budget of {budget} bytes holds no block of {fullBlockBytes} bytes");
            return new KvPoolSizes((int)blocks, 0);
        }
        long stepTokens = options.ChunkedPrefill ? options.MaxNumBatchedTokens : Math.Max(options.MaxNumBatchedTokens, c.ContextLength);
        long windowBlocks = (c.SlidingWindow + bs - 1) / bs + 2;
        if (options.SlidingKvBlocks < windowBlocks)
            throw new ArgumentException($"a sliding pool of {options.SlidingKvBlocks} blocks cannot hold one window of {c.SlidingWindow} positions ({windowBlocks} blocks)");
        long need = options.SlidingKvBlocks ?? options.MaxNumSeqs * windowBlocks + (stepTokens + bs - 1) / bs;
        long sliding = Math.Min(need, maxBlocks), full;
        if (targetFullBytes == 0)
        {
            sliding = Math.Min(sliding, budget / slidingBlockBytes - 1);
            full = fullBlockBytes == 0 ? 0 : Math.Min(maxBlocks, (budget - (sliding + 1) * slidingBlockBytes) / fullBlockBytes);
        }
        else
        {
            full = Math.Min(maxBlocks, (budget - (sliding + 1) * slidingBlockBytes) / fullBlockBytes);
            if (full < sliding) sliding = full = Math.Min(maxBlocks, (budget - slidingBlockBytes) / (fullBlockBytes + slidingBlockBytes));
        }
        if (sliding < 1 || (targetFullBytes > 0 && full < 1))
            throw new ArgumentException($"KV cache budget of {budget} bytes holds no block of {fullBlockBytes} + {slidingBlockBytes} bytes");
        return new KvPoolSizes((int)full, (int)sliding);
    }

    /// <summary>Bytes per token of the draft model's cache (f16, as <c>DraftModelDrafter</c> allocates it); 0 without one.</summary>
    private static long DraftBytesPerToken(EngineOptions options) =>
        options.Speculative is { Method: Speculative.SpeculativeMethod.DraftModel, DraftModel: { } draft }
            ? KvCache.BytesPerToken(draft.Config, KvCacheType.F16)
            : 0;

    public void Dispose()
    {
        Cache.Dispose();
        if (_ownsPool) _pool.Dispose();
    }
}
