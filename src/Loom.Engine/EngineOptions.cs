namespace Loom.Engine;

/// <summary>Sizing and policy of an <see cref="LlmEngine"/>.</summary>
public sealed record EngineOptions
{
    /// <summary>Tokens per KV block.</summary>
    public int BlockSize { get; init; } = 16;
    /// <summary>KV cache budget in bytes; null = <see cref="KvCacheFraction"/> of available memory.</summary>
    public long? KvCacheBytes { get; init; }
    /// <summary>Share of the memory available at start (Linux MemAvailable) for the KV cache when no byte budget is given.</summary>
    public double KvCacheFraction { get; init; } = 0.25;
    /// <summary>Never allocate more KV than this many tokens' worth (defaults to the model context × max sequences).</summary>
    public int? MaxKvTokens { get; init; }
    /// <summary>Most sequences in one step.</summary>
    public int MaxNumSeqs { get; init; } = 64;
    /// <summary>Token budget of one step (decodes plus prefill chunks).</summary>
    public int MaxNumBatchedTokens { get; init; } = 512;
    /// <summary>Split long prompts into chunks that fit the step budget (Sarathi), so decodes never stall behind them.</summary>
    public bool ChunkedPrefill { get; init; } = true;
    public bool PrefixCaching { get; init; } = true;
    /// <summary>
    /// Give a model's sliding-window layers a KV pool of their own, whose blocks are released as they fall out of
    /// the window (vLLM's hybrid allocator); false keeps every layer's every position in one pool.
    /// </summary>
    public bool SlidingWindowPool { get; init; } = true;
    /// <summary>
    /// Blocks of the sliding layers' pool (null = enough for <see cref="MaxNumSeqs"/> windows and a step's tokens,
    /// <see cref="ModelRunner.PoolSizes"/>); a smaller pool preempts sooner.
    /// </summary>
    public int? SlidingKvBlocks { get; init; }
    /// <summary>Most requests waiting before <c>LlmEngine.AddRequest</c> refuses new ones.</summary>
    public int MaxWaiting { get; init; } = 1024;
    /// <summary>KV cache element type: f16 (llama.cpp's default, exact attention) or int8 with per-head scales.</summary>
    public Loom.Models.Architectures.KvCacheType KvCacheDtype { get; init; } = Loom.Models.Architectures.KvCacheType.F16;
    /// <summary>Compute threads of this engine's own pool (null = the shared pool, one thread per core).</summary>
    public int? Threads { get; init; }
    /// <summary>When attention leaves llama.cpp's exact order for the tiled kernels (null = <see cref="Loom.Models.Architectures.AttentionPolicy.Default"/>).</summary>
    public Loom.Models.Architectures.AttentionPolicy? Attention { get; init; }
    /// <summary>Speculative decoding (null = off).</summary>
    public Speculative.SpeculativeOptions? Speculative { get; init; }
    /// <summary>Fault injection for tests (<see cref="IEngineFaults"/>); null in production.</summary>
    public IEngineFaults? Faults { get; init; }

    public void Validate()
    {
        if (BlockSize is < 1 or > 1024) throw new ArgumentOutOfRangeException(nameof(BlockSize), "block size must be 1..1024");
        if (MaxNumSeqs < 1) throw new ArgumentOutOfRangeException(nameof(MaxNumSeqs));
        if (MaxNumBatchedTokens < 1) throw new ArgumentOutOfRangeException(nameof(MaxNumBatchedTokens));
        // Every running sequence's decode token must fit one step, or the newest would starve.
        if (MaxNumBatchedTokens < MaxNumSeqs)
            throw new ArgumentOutOfRangeException(nameof(MaxNumBatchedTokens), $"max-num-batched-tokens ({MaxNumBatchedTokens}) must be at least max-num-seqs ({MaxNumSeqs})");
        if (SlidingKvBlocks is <= 0) throw new ArgumentOutOfRangeException(nameof(SlidingKvBlocks));
        if (KvCacheBytes is <= 0) throw new ArgumentOutOfRangeException(nameof(KvCacheBytes));
        if (!Enum.IsDefined(KvCacheDtype)) throw new ArgumentOutOfRangeException(nameof(KvCacheDtype));
        if (KvCacheFraction is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(KvCacheFraction));
        Speculative?.Validate();
    }
}
