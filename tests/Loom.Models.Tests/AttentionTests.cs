using Loom.Tests;
using Loom.Models.Architectures;
using Loom.Core.Kernels.Attention;

namespace Loom.Models.Tests;

/// <summary>The fast f16 attention against the plain reference: every output must be the same float, bit for bit.</summary>
public class AttentionTests
{
    public static TheoryData<int, int, int, int, int> Shapes => new()
    {
        // headDim, heads, kvHeads, blockSize, seed
        { 64, 8, 2, 16, 1 },   // TinyLlama-like head, GQA 4
        { 64, 4, 4, 7, 2 },    // no GQA, odd block size
        { 8, 8, 4, 16, 3 },    // stories260K-like tiny head
        { 48, 6, 3, 5, 4 },    // head dim not a multiple of 16 or 64
        { 128, 4, 1, 32, 5 },  // wide head, all heads on one KV head
        { 80, 2, 1, 3, 6 },
    };

    /// <summary>Sequences: lone decodes at lengths around the 32/64 padding edges, prompt chunks, a fresh prompt.</summary>
    private static readonly (int, int)[] Mix = [(0, 1), (31, 1), (63, 1), (70, 1), (100, 1), (129, 1), (0, 37), (40, 9), (190, 1)];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FastF16MatchesReferenceBitForBit(int hd, int heads, int kvHeads, int blockSize, int seed) =>
        CheckBitForBit(hd, heads, kvHeads, blockSize, seed, 0);

    /// <summary>phi3's form: Q already scaled by the model, scores multiplied by 1; the fast path still equals the reference.</summary>
    [Theory]
    [InlineData(48, 6, 3, 5, 4)]
    [InlineData(96, 4, 4, 16, 7)]
    public void PreScaledQueriesMatchReferenceBitForBit(int hd, int heads, int kvHeads, int blockSize, int seed) =>
        CheckBitForBit(hd, heads, kvHeads, blockSize, seed, 1f / MathF.Sqrt(hd));

    private static void CheckBitForBit(int hd, int heads, int kvHeads, int blockSize, int seed, float queryScale)
    {
        using var rig = new AttentionTestRig(hd, heads, kvHeads, blockSize, Mix, seed, context: 200, queryScale: queryScale);
        Assert.Equal(queryScale > 0 ? 1f : 1f / MathF.Sqrt(hd), rig.Config.AttentionScoreScale);
        var fast = new PagedAttention(rig.Config);
        var reference = new ReferenceAttention(rig.Config);
        rig.Prepare((b, layer, k, v) => rig.Cache.Store(b, layer, k, v));
        int n = rig.Batch.TokenCount * heads * hd;
        for (int layer = 0; layer < rig.Config.NumLayers; layer++)
        {
            var k = rig.Random(rig.Batch.TokenCount * rig.KvDim, 2f);
            var v = rig.Random(rig.Batch.TokenCount * rig.KvDim, 1f);
            rig.Cache.Store(rig.Batch, layer, k, v);
            var expected = new float[n];
            var actual = new float[n];
            reference.Compute(rig.Batch, rig.Cache, layer, rig.Q, expected);
            fast.Compute(rig.Batch, rig.Cache, layer, rig.Q, actual);
            for (int i = 0; i < n; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                    $"layer {layer} element {i} (token {i / (heads * hd)}): reference {expected[i]:R}, fast {actual[i]:R}");
        }
    }

    [Theory]
    [InlineData(KvCacheType.F16, true)]
    [InlineData(KvCacheType.F16, false)]
    [InlineData(KvCacheType.Int8, false)]
    public void StoreAndComputeAllocateNothingOnceWarm(KvCacheType type, bool exact)
    {
        using var rig = new AttentionTestRig(64, 8, 2, 16, Mix, 9, type, context: 200);
        var att = new PagedAttention(rig.Config);
        var policy = exact ? new AttentionPolicy { ExactOnly = true, PlanThreads = 8 } : new AttentionPolicy { SplitMinPositions = 0, TiledMinPositions = 0, PlanThreads = 8 };
        rig.Prepare((b, layer, k, v) => rig.Cache.Store(b, layer, k, v));
        var k = rig.Random(rig.Batch.TokenCount * rig.KvDim, 1f);
        var v = rig.Random(rig.Batch.TokenCount * rig.KvDim, 1f);
        var o = new float[rig.Q.Length];
        // With one thread the dispatch runs inline: what is measured is attention's own allocation, not the pool's.
        using var pool = new Core.Threading.ComputePool(1);
        int step = 0;
        void Step()
        {
            rig.Cache.Store(rig.Batch, step % 2, k, v);
            att.Compute(rig.Batch, rig.Cache, step % 2, rig.Q, o, pool, policy);
            step++;
        }
        long allocated = AllocationProbe.Measure(Step, measured: 20, maxSteps: 2_000, warm: 60, window: 8);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public unsafe void StoreRoundsLikeHalfCast()
    {
        using var rig = new AttentionTestRig(48, 2, 2, 4, [(0, 9)], 7);
        rig.Prepare((_, _, _, _) => { });
        var k = rig.Random(9 * rig.KvDim, 70000f); // includes values past the f16 range
        var v = rig.Random(9 * rig.KvDim, 1e-5f);   // and in its subnormal range
        rig.Cache.Store(rig.Batch, 1, k, v);
        var table = rig.Batch.BlockTable(0);
        for (int t = 0; t < 9; t++)
        {
            int slot = table[t / 4] * 4 + t % 4;
            for (int i = 0; i < rig.KvDim; i++)
            {
                Assert.Equal((Half)k[t * rig.KvDim + i], rig.Cache.K(1, slot)[i]);
                Assert.Equal((Half)v[t * rig.KvDim + i], rig.Cache.V(1, slot)[i]);
            }
        }
    }
}

/// <summary>The tiled-prompt and split-decode kernels against attention computed in double from the same cache.</summary>
public class TiledAttentionTests
{
    public static TheoryData<int, int, int, int, int, int> Shapes => new()
    {
        // headDim, heads, kvHeads, blockSize, seed, threads (drives the split count)
        { 64, 8, 2, 16, 1, 16 },
        { 48, 6, 3, 5, 2, 7 },
        { 8, 8, 4, 16, 3, 3 },
        { 80, 2, 1, 3, 4, 32 },
        { 128, 4, 1, 32, 5, 1 },
    };

    private static readonly (int, int)[] Mix = [(0, 1), (300, 1), (1000, 1), (517, 1), (0, 37), (40, 9), (600, 23), (3, 1)];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void F16TiledAndSplitMatchDoubleReference(int hd, int heads, int kvHeads, int blockSize, int seed, int threads) =>
        Check(hd, heads, kvHeads, blockSize, seed, threads, KvCacheType.F16);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Int8MatchesDoubleReference(int hd, int heads, int kvHeads, int blockSize, int seed, int threads) =>
        Check(hd, heads, kvHeads, blockSize, seed, threads, KvCacheType.Int8);

    private static void Check(int hd, int heads, int kvHeads, int blockSize, int seed, int threads, KvCacheType type)
    {
        using var rig = new AttentionTestRig(hd, heads, kvHeads, blockSize, Mix, seed, type);
        var att = new PagedAttention(rig.Config);
        var policy = new AttentionPolicy { SplitMinPositions = 0, TiledMinPositions = 0, PlanThreads = threads, ForceOnline = true };
        rig.Prepare((b, layer, k, v) => rig.Cache.Store(b, layer, k, v));
        var k = rig.Random(rig.Batch.TokenCount * rig.KvDim, 2f);
        var v = rig.Random(rig.Batch.TokenCount * rig.KvDim, 1f);
        rig.Cache.Store(rig.Batch, 1, k, v);
        var actual = new float[rig.Batch.TokenCount * heads * hd];
        att.Compute(rig.Batch, rig.Cache, 1, rig.Q, actual, policy: policy);
        var expected = DoubleReference.Attention(rig, 1);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])),
                $"element {i} (token {i / (heads * hd)}): expected {expected[i]:R}, got {actual[i]:R}");
    }
}

/// <summary>
/// Causal softmax attention in double over whatever the cache holds (Q rounded to f16 for an f16 cache), over a
/// sliding layer's window only, scores soft-capped where the config says.
/// </summary>
internal static unsafe class DoubleReference
{
    public static double[] Attention(AttentionTestRig rig, int layer)
    {
        var c = rig.Config;
        var cache = rig.Cache;
        var batch = rig.Batch;
        int hd = c.HeadDim, group = c.NumHeads / c.NumKvHeads;
        var o = new double[batch.TokenCount * c.NumHeads * hd];
        for (int t = 0; t < batch.TokenCount; t++)
        {
            int n = batch.Positions[t] + 1, lo = c.FirstVisible(layer, n - 1);
            double scale = c.QueryScale != 0 ? 1 : 1 / Math.Sqrt(hd);
            int[] table = batch.BlockTable(batch.TokenSeq[t]);
            for (int h = 0; h < c.NumHeads; h++)
            {
                int kvh = h / group;
                var s = new double[n];
                for (int j = 0; j < lo; j++) s[j] = double.NegativeInfinity;
                for (int j = lo; j < n; j++)
                {
                    double dot = 0;
                    for (int d = 0; d < hd; d++)
                    {
                        double q = rig.Q[(t * c.NumHeads + h) * hd + d];
                        if (cache.Type == KvCacheType.F16) q = (double)(Half)q;
                        dot += q * Read(cache, layer, table, j, kvh, d, keys: true);
                    }
                    s[j] = dot * scale;
                    if (c.AttnSoftcap != 0) s[j] = c.AttnSoftcap * Math.Tanh(s[j] / c.AttnSoftcap);
                }
                double max = s.Max(), sum = 0;
                for (int j = 0; j < n; j++) sum += s[j] = Math.Exp(s[j] - max);
                for (int d = 0; d < hd; d++)
                {
                    double acc = 0;
                    for (int j = 0; j < n; j++) acc += s[j] / sum * Read(cache, layer, table, j, kvh, d, keys: false);
                    o[(t * c.NumHeads + h) * hd + d] = acc;
                }
            }
        }
        return o;
    }

    public static double Read(KvCache cache, int layer, int[] table, int pos, int kvh, int d, bool keys)
    {
        int slot = table[pos / cache.BlockSize] * cache.BlockSize + pos % cache.BlockSize;
        int i = kvh * cache.HeadDim + d;
        if (cache.Type == KvCacheType.F16) return (double)(keys ? cache.K(layer, slot) : cache.V(layer, slot))[i];
        double scale = (keys ? cache.KScales(layer, slot) : cache.VScales(layer, slot))[kvh];
        return scale * (keys ? cache.KInt8(layer, slot) : cache.VInt8(layer, slot))[i];
    }
}
