using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>
/// A KV cache whose sliding layers have a pool of their own (group 1, block 0 its null block): its layout and bytes,
/// copies within one group, and a forward pass through two tables whose sliding one has released entries pointing
/// at a NaN-filled null block, against the same pass on one pool.
/// </summary>
public class KvCacheGroupTests
{
    private static LoadedModel Gemma3(TempDir dir)
    {
        SyntheticModel.Write(dir.File("m.gguf"), SyntheticModelSpec.Gemma3Tiny, GgmlType.F32, seed: 3);
        return ModelLoader.Load(dir.File("m.gguf"));
    }

    [Fact]
    public unsafe void SlidingLayersGetTheirOwnGroupAndCopiesStayInIt()
    {
        using var dir = new TempDir();
        using var model = Gemma3(dir);
        var c = model.Config;
        using var cache = KvCache.For(c, 8, 16, KvCacheType.F16, slidingBlocks: 4);
        Assert.Equal(2, cache.Groups);
        Assert.Equal(8, cache.GroupBlocks(0));
        Assert.Equal(5, cache.GroupBlocks(1));
        Assert.Equal(0, cache.GroupWindow(0));
        Assert.Equal(16, cache.GroupWindow(1));
        int sliding = 0;
        for (int l = 0; l < c.NumLayers; l++)
        {
            Assert.Equal(c.IsSliding(l) ? 1 : 0, cache.GroupOf(l));
            if (c.IsSliding(l)) sliding++;
        }
        long perLayerBlock = KvCache.BytesPerToken(1, c.NumKvHeads, c.HeadDim, KvCacheType.F16) * 16;
        Assert.Equal(perLayerBlock * ((c.NumLayers - sliding) * 8 + sliding * 5), cache.TotalBytes);
        Assert.Equal(KvCache.BytesPerToken(sliding, c.NumKvHeads, c.HeadDim, KvCacheType.F16), KvCache.SlidingBytesPerToken(c, KvCacheType.F16));

        int global = Enumerable.Range(0, c.NumLayers).First(l => !c.IsSliding(l)), local = Enumerable.Range(0, c.NumLayers).First(c.IsSliding);
        cache.K(global, 16)[0] = (Half)1; cache.K(local, 16)[0] = (Half)2;
        cache.CopyBlock(1, 1, 2);
        Assert.Equal((Half)2, cache.K(local, 32)[0]);
        Assert.Equal((Half)0, cache.K(global, 32)[0]);
        cache.Poison(1, 3);
        Assert.True(Half.IsNaN(cache.V(local, 48)[5]));
        Assert.False(Half.IsNaN(cache.V(global, 48)[5]));
        // Without a sliding pool, or for a model without sliding layers, one group as before.
        using var one = KvCache.For(c, 8, 16, KvCacheType.F16, slidingBlocks: 0);
        Assert.Equal(1, one.Groups);
    }

    [Fact]
    public void ADecodeThroughReleasedEntriesGivesTheLogitsOfOnePool()
    {
        using var dir = new TempDir();
        using var model = Gemma3(dir);
        var c = model.Config;
        var tokens = Enumerable.Range(0, 41).Select(i => 3 + (i * 37 + 11) % (c.VocabSize - 3)).ToArray();
        var exact = new AttentionPolicy { ExactOnly = true };
        float[] Decode(KvCache cache, int[] global, int[]? slidingPrefill, int[]? slidingDecode)
        {
            var batch = new ForwardBatch();
            batch.Add(tokens.AsSpan(0, 40), 0, global, slidingPrefill, LogitRequest.None);
            model.Transformer.Forward(batch, cache, [], attention: exact);
            if (cache.Groups > 1)
            {
                // Position 40's window starts at 25: block 0 (positions 0..15) is released and poisoned with the null block.
                cache.Poison(1, slidingPrefill![0]);
                cache.Poison(1, 0);
            }
            batch.Clear();
            batch.Add(tokens.AsSpan(40, 1), 40, global, slidingDecode, LogitRequest.Last);
            var logits = new float[c.VocabSize];
            model.Transformer.Forward(batch, cache, logits, attention: exact);
            return logits;
        }
        using var onePool = KvCache.For(c, 3, 16);
        var want = Decode(onePool, [0, 1, 2], null, null);
        using var twoPools = KvCache.For(c, 3, 16, KvCacheType.F16, slidingBlocks: 4);
        var got = Decode(twoPools, [2, 0, 1], [1, 3, 4], [0, 3, 4]);
        Assert.All(got, x => Assert.True(float.IsFinite(x)));
        Assert.Equal(want, got);
    }
}
