using Loom.Core.Kernels.Quantized;
using Loom.Core.Tensors;
using Loom.Core.Threading;
using Loom.Models.Architectures;
using Loom.Models.Architectures.Mla;
using Loom.Models.Formats.Gguf;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>
/// Latent attention's absorbed form over its paged latent cache against the plain decompressed form
/// (<see cref="ReferenceMla"/>): a prompt in one chunk, then chunks and single decode tokens reading what earlier calls
/// cached, through a scattered block table; f16 and int8 caches; with and without the query's LoRA pair and YaRN.
/// </summary>
public class MlaAttentionTests
{
    /// <summary>V2-Lite's layout (no q LoRA) with YaRN ×4 from a 64-token training context, at test size.</summary>
    private static SyntheticModelSpec LiteYarnTiny => SyntheticModelSpec.Deepseek2Tiny with
    {
        Mla = SyntheticModelSpec.Deepseek2Tiny.Mla! with { QLoraRank = 0, YarnFactor = 4, YarnOrigContext = 64, YarnLogMultiplier = 0.1f },
    };

    public static TheoryData<string, GgmlType, KvCacheType, double> Cases => new()
    {
        { "tiny", GgmlType.F32, KvCacheType.F16, 1e-3 }, { "lite-yarn", GgmlType.F32, KvCacheType.F16, 1e-3 },
        { "tiny", GgmlType.F16, KvCacheType.F16, 4e-3 }, { "tiny", GgmlType.Q8_0, KvCacheType.F16, 2e-2 },
        { "tiny", GgmlType.F32, KvCacheType.Int8, 1.5e-2 }, { "lite-yarn", GgmlType.F32, KvCacheType.Int8, 1.5e-2 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void AbsorbedFormMatchesDecompressedReference(string shape, GgmlType type, KvCacheType cacheType, double tolerance)
    {
        using var dir = new TempDir();
        string path = dir.File("mla.gguf");
        SyntheticModel.Write(path, shape == "tiny" ? SyntheticModelSpec.Deepseek2Tiny : LiteYarnTiny, type, seed: 3);
        var (c, weights) = GgufModelLoader.Load(GgufFile.Open(path));
        using var _ = weights;
        var packed = new List<PackedMatrix>();
        try
        {
            var layer = weights.Layers[1];
            var mla = new MlaAttention(c, layer, packed, weights.Owners);
            const int block = 4, tokens = 23;
            using var cache = KvCache.For(c, numBlocks: 16, blockSize: block, cacheType);
            int[] table = [9, 2, 14, 0, 7, 3, 11, 5];
            var rng = new Random(17);
            var x = Enumerable.Range(0, tokens * c.Dim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var expected = ReferenceMla.Attention(c, layer, x, tokens);
            int width = c.NumHeads * c.Mla!.VHeadDim;
            var got = new float[tokens * width];
            var scratch = new MlaScratch();
            var batch = new ForwardBatch();
            // A 9-token prompt chunk, a 6-token chunk, then decode tokens one at a time.
            int done = 0;
            foreach (int n in new[] { 9, 6, 1, 1, 1, 1, 1, 1, 1, 1 })
            {
                batch.Clear();
                batch.Add(new int[n], done, table);
                scratch.Ensure(c, [mla], n);
                var xb = x[(done * c.Dim)..((done + n) * c.Dim)];
                mla.Forward(batch, cache, 1, xb, n, Enumerable.Repeat(n == 1, n).ToArray(), got.AsSpan(done * width, n * width), scratch, ComputePool.Shared);
                done += n;
            }
            Assert.Equal(tokens, done);
            for (int t = 0; t < tokens; t++)
            {
                double err = 0, norm = 0;
                for (int i = 0; i < width; i++) { err += Math.Pow(got[t * width + i] - expected[t * width + i], 2); norm += Math.Pow(expected[t * width + i], 2); }
                Assert.True(Math.Sqrt(err / norm) < tolerance, $"token {t}: relative error {Math.Sqrt(err / norm):g3} over {tolerance}");
            }
        }
        finally
        {
            foreach (var p in packed) p.Dispose();
        }
    }

    /// <summary>The cache holds one latent row per token and layer: c_kv and k_pe, no V, one int8 scale per group.</summary>
    [Fact]
    public void CacheHoldsOnlyTheLatentRow()
    {
        var c = new ModelConfig
        {
            Architecture = "deepseek2", VocabSize = 102400, Dim = 2048, FfnDim = 10944, NumLayers = 27, NumHeads = 16, NumKvHeads = 16,
            HeadDim = 192, ContextLength = 163840, RopeDim = 64,
            Mla = new MlaConfig { QLoraRank = 0, KvLoraRank = 512, QkNopeDim = 128, QkRopeDim = 64, VHeadDim = 128 },
        };
        Assert.Equal(27L * 576 * 2, KvCache.BytesPerToken(c, KvCacheType.F16));
        Assert.Equal(27L * (576 + 9 * 4), KvCache.BytesPerToken(c, KvCacheType.Int8));
        using var cache = KvCache.For(c, 2, 16);
        Assert.True(cache.KeysOnly);
        Assert.Equal(576, cache.KvDim);
        Assert.Equal(cache.TokenBytes * 32, cache.TotalBytes);
    }
}
