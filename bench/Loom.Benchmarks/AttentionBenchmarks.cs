using BenchmarkDotNet.Attributes;
using Loom.Models.Architectures;

namespace Loom.Benchmarks;

/// <summary>
/// Paged attention of a small model (8 heads of 64, 2 KV heads): one decode token over a cache of
/// <see cref="Context"/> positions, and a 64-token prompt chunk attending causally.
/// </summary>
public class AttentionBenchmarks
{
    private const int BlockSize = 16, Heads = 8, KvHeads = 2, HeadDim = 64;
    private PagedAttention? _attention;
    private KvCache? _cache;
    private readonly ForwardBatch _decode = new(), _prompt = new();
    private float[] _q = [], _out = [];

    [Params(512)]
    public int Context { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var config = new ModelConfig
        {
            Architecture = "llama", VocabSize = 512, Dim = Heads * HeadDim, FfnDim = 1024, NumLayers = 1,
            NumHeads = Heads, NumKvHeads = KvHeads, HeadDim = HeadDim, ContextLength = Context, RopeDim = HeadDim,
        };
        _attention = new PagedAttention(config);
        int blocks = Context / BlockSize;
        _cache = new KvCache(1, KvHeads * HeadDim, blocks, BlockSize);
        var table = Enumerable.Range(0, blocks).ToArray();

        // Fill the whole cache through the real store path.
        var fill = new ForwardBatch();
        fill.Add(new int[Context], 0, table, LogitRequest.None);
        var kv = BenchData.Floats(Context * KvHeads * HeadDim, 1);
        _cache.Store(fill, 0, kv, kv);

        _decode.Add([0], Context - 1, table);
        _prompt.Add(new int[64], 0, table);
        _q = BenchData.Floats(64 * Heads * HeadDim, 2);
        _out = new float[64 * Heads * HeadDim];
    }

    [GlobalCleanup]
    public void Cleanup() => _cache?.Dispose();

    [Benchmark]
    public void Decode() => _attention!.Compute(_decode, _cache!, 0, _q.AsSpan(0, Heads * HeadDim), _out);

    [Benchmark]
    public void Prompt64() => _attention!.Compute(_prompt, _cache!, 0, _q, _out);
}
