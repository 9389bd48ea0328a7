using Loom.Models.Architectures;

namespace Loom.Models.Tests;

/// <summary>
/// Random attention problems: a model shape, a KV cache with shuffled block tables, a ragged batch whose
/// sequences mix lone decode tokens and prompt chunks, and random Q/K/V.
/// </summary>
internal sealed class AttentionTestRig : IDisposable
{
    public ModelConfig Config { get; }
    public KvCache Cache { get; }
    public ForwardBatch Batch { get; } = new();
    public float[] Q { get; private set; } = [];
    private readonly Random _rng;
    private readonly int[][] _tables;
    private readonly int[] _filled;

    /// <param name="seqLens">Per sequence: (positions already cached, tokens in this batch).</param>
    /// <param name="configure">Changes the two-layer config (Gemma's sliding window and soft-cap).</param>
    public AttentionTestRig(int headDim, int heads, int kvHeads, int blockSize, (int Cached, int New)[] seqLens, int seed,
        KvCacheType type = KvCacheType.F16, int context = 0, float queryScale = 0, Func<ModelConfig, ModelConfig>? configure = null)
    {
        _rng = new Random(seed);
        int maxLen = seqLens.Max(s => s.Cached + s.New);
        Config = new ModelConfig
        {
            Architecture = "llama", VocabSize = 8, Dim = heads * headDim, FfnDim = 8, NumLayers = 2,
            NumHeads = heads, NumKvHeads = kvHeads, HeadDim = headDim, RopeDim = headDim,
            ContextLength = context > 0 ? context : Math.Max(maxLen, 4), QueryScale = queryScale,
        };
        if (configure is not null) Config = configure(Config);
        int blocksPerSeq = (maxLen + blockSize - 1) / blockSize;
        int numBlocks = blocksPerSeq * seqLens.Length + 3;
        Cache = new KvCache(Config.NumLayers, kvHeads, headDim, numBlocks, blockSize, type);
        // Hand out the blocks in a shuffled order so that no sequence's blocks are contiguous.
        var free = Enumerable.Range(0, numBlocks).OrderBy(_ => _rng.Next()).ToArray();
        _tables = new int[seqLens.Length][];
        _filled = new int[seqLens.Length];
        for (int s = 0; s < seqLens.Length; s++) _tables[s] = free.Skip(s * blocksPerSeq).Take(blocksPerSeq).ToArray();
        SeqLens = seqLens;
    }

    public (int Cached, int New)[] SeqLens { get; }
    public int KvDim => Config.NumKvHeads * Config.HeadDim;

    public float[] Random(int n, float scale)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(_rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>Fills the history of every sequence through <paramref name="store"/>, then builds the batch and Q.</summary>
    public void Prepare(Action<ForwardBatch, int, float[], float[]> store, float qScale = 3f)
    {
        for (int layer = 0; layer < Config.NumLayers; layer++)
            for (int s = 0; s < SeqLens.Length; s++)
            {
                int cached = SeqLens[s].Cached;
                if (cached == 0) continue;
                var b = new ForwardBatch();
                b.Add(new int[cached], 0, _tables[s], LogitRequest.None);
                store(b, layer, Random(cached * KvDim, 2f), Random(cached * KvDim, 1f));
            }
        Batch.Clear();
        for (int s = 0; s < SeqLens.Length; s++) Batch.Add(new int[SeqLens[s].New], SeqLens[s].Cached, _tables[s]);
        Q = Random(Batch.TokenCount * Config.NumHeads * Config.HeadDim, qScale);
    }

    public void Dispose() => Cache.Dispose();
}
