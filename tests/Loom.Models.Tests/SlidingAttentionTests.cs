using Loom.Models.Architectures;

namespace Loom.Models.Tests;

/// <summary>
/// Gemma's attention: a sliding layer (layer 0, window 20) beside a global one (layer 1), scores soft-capped and Q
/// pre-scaled. The exact path must still equal the reference bit for bit, and the tiled-prompt and split-decode
/// paths must match attention in double over the window alone.
/// </summary>
public class SlidingAttentionTests
{
    private const int Window = 20;

    private static ModelConfig Gemma(ModelConfig c) => c with
    {
        SlidingWindow = Window, SlidingLayers = [true, false], AttnSoftcap = 2.5f, QueryScale = 1f / MathF.Sqrt(c.HeadDim),
    };

    /// <summary>Decodes before, at and far past the window; prompt chunks that start inside it and run past it.</summary>
    private static readonly (int, int)[] Mix = [(0, 1), (18, 1), (19, 1), (20, 1), (63, 1), (70, 1), (190, 1), (0, 37), (40, 9), (12, 30)];

    public static TheoryData<int, int, int, int, int> Shapes => new()
    {
        { 64, 8, 2, 16, 1 }, { 48, 6, 3, 5, 4 }, { 8, 8, 4, 16, 3 }, { 32, 4, 2, 7, 2 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ExactMatchesReferenceBitForBit(int hd, int heads, int kvHeads, int blockSize, int seed)
    {
        using var rig = new AttentionTestRig(hd, heads, kvHeads, blockSize, Mix, seed, context: 200, configure: Gemma);
        var fast = new PagedAttention(rig.Config);
        var reference = new ReferenceAttention(rig.Config);
        rig.Prepare((b, layer, k, v) => rig.Cache.Store(b, layer, k, v));
        int n = rig.Batch.TokenCount * heads * hd;
        for (int layer = 0; layer < 2; layer++)
        {
            var expected = new float[n];
            var actual = new float[n];
            reference.Compute(rig.Batch, rig.Cache, layer, rig.Q, expected);
            fast.Compute(rig.Batch, rig.Cache, layer, rig.Q, actual, policy: new AttentionPolicy { ExactOnly = true });
            for (int i = 0; i < n; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                    $"layer {layer} element {i} (token {i / (heads * hd)}): reference {expected[i]:R}, fast {actual[i]:R}");
            // And the reference itself is attention over the window.
            var exact = DoubleReference.Attention(rig, layer);
            for (int i = 0; i < n; i++)
                Assert.True(Math.Abs(expected[i] - exact[i]) <= 5e-3 * Math.Max(1, Math.Abs(exact[i])), $"layer {layer} element {i}: {expected[i]:R} vs {exact[i]:R}");
        }
    }

    [Theory]
    [InlineData(KvCacheType.F16, 1)]
    [InlineData(KvCacheType.F16, 16)]
    [InlineData(KvCacheType.Int8, 7)]
    public void TiledAndSplitMatchDoubleReference(KvCacheType type, int threads)
    {
        (int, int)[] mix = [.. Mix, (600, 1), (1000, 1), (600, 23)];
        using var rig = new AttentionTestRig(64, 8, 2, 16, mix, 5, type, configure: Gemma);
        var att = new PagedAttention(rig.Config);
        var policy = new AttentionPolicy { SplitMinPositions = 0, TiledMinPositions = 0, PlanThreads = threads, ForceOnline = true };
        rig.Prepare((b, layer, k, v) => rig.Cache.Store(b, layer, k, v));
        for (int layer = 0; layer < 2; layer++)
        {
            var actual = new float[rig.Batch.TokenCount * 8 * 64];
            att.Compute(rig.Batch, rig.Cache, layer, rig.Q, actual, policy: policy);
            var expected = DoubleReference.Attention(rig, layer);
            double tol = type == KvCacheType.F16 ? 1e-5 : 1e-5;
            for (int i = 0; i < actual.Length; i++)
                Assert.True(Math.Abs(actual[i] - expected[i]) <= tol * Math.Max(1, Math.Abs(expected[i])),
                    $"layer {layer} element {i} (token {i / (8 * 64)}): expected {expected[i]:R}, got {actual[i]:R}");
        }
    }

    /// <summary>
    /// A sliding layer never reads a position before its tokens' windows: with those slots of the cache overwritten by
    /// NaN (as a block reused by another sequence would be), every path gives the same output, bit for bit.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public unsafe void PositionsBeforeTheWindowAreNeverRead(bool exact)
    {
        (int, int)[] mix = [.. Mix, (300, 1), (600, 23)];
        using var rig = new AttentionTestRig(32, 4, 2, 8, mix, 11, configure: Gemma);
        var att = new PagedAttention(rig.Config);
        var policy = exact ? new AttentionPolicy { ExactOnly = true }
            : new AttentionPolicy { SplitMinPositions = 0, TiledMinPositions = 0, PlanThreads = 8, ForceOnline = true };
        rig.Prepare((b, layer, k, v) => rig.Cache.Store(b, layer, k, v));
        var before = new float[rig.Q.Length];
        att.Compute(rig.Batch, rig.Cache, 0, rig.Q, before, policy: policy);

        var b = rig.Batch;
        for (int seq = 0; seq < b.SeqCount; seq++)
        {
            int first = b.Positions[b.SeqTokenStart(seq)], start = rig.Config.FirstVisible(0, first);
            var table = b.BlockTable(seq);
            for (int p = 0; p < start; p++)
            {
                int slot = table[p / rig.Cache.BlockSize] * rig.Cache.BlockSize + p % rig.Cache.BlockSize;
                for (int i = 0; i < rig.KvDim; i++) rig.Cache.K(0, slot)[i] = rig.Cache.V(0, slot)[i] = Half.NaN;
            }
        }
        var after = new float[rig.Q.Length];
        att.Compute(rig.Batch, rig.Cache, 0, rig.Q, after, policy: policy);
        for (int i = 0; i < after.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(before[i]) == BitConverter.SingleToInt32Bits(after[i]), $"element {i}: {before[i]:R} became {after[i]:R}");
    }
}
