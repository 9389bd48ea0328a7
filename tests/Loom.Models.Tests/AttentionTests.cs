using Loom.Models.Architectures;
using Loom.Models.Architectures.Attention;

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
    public unsafe void FastF16MatchesReferenceBitForBit(int hd, int heads, int kvHeads, int blockSize, int seed)
    {
        using var rig = new AttentionTestRig(hd, heads, kvHeads, blockSize, Mix, seed, context: 200);
        var fast = new PagedAttention(rig.Config);
        var reference = new ReferenceAttention(rig.Config);
        rig.Prepare((b, layer, k, v) => fast.Store(b, rig.Cache, layer, k, v));
        int n = rig.Batch.TokenCount * heads * hd;
        for (int layer = 0; layer < rig.Config.NumLayers; layer++)
        {
            var k = rig.Random(rig.Batch.TokenCount * rig.KvDim, 2f);
            var v = rig.Random(rig.Batch.TokenCount * rig.KvDim, 1f);
            fast.Store(rig.Batch, rig.Cache, layer, k, v);
            var expected = new float[n];
            var actual = new float[n];
            reference.Compute(rig.Batch, rig.Cache, layer, rig.Q, expected);
            fast.Compute(rig.Batch, rig.Cache, layer, rig.Q, actual);
            for (int i = 0; i < n; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                    $"layer {layer} element {i} (token {i / (heads * hd)}): reference {expected[i]:R}, fast {actual[i]:R}");
        }
    }

    [Fact]
    public unsafe void StoreRoundsLikeHalfCast()
    {
        using var rig = new AttentionTestRig(48, 2, 2, 4, [(0, 9)], 7);
        rig.Prepare((_, _, _, _) => { });
        var k = rig.Random(9 * rig.KvDim, 70000f); // includes values past the f16 range
        var v = rig.Random(9 * rig.KvDim, 1e-5f);   // and in its subnormal range
        new PagedAttention(rig.Config).Store(rig.Batch, rig.Cache, 1, k, v);
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
