using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Formats.Gguf;
using Loom.Models.Quantize;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>phi3 files: fused tensors as views, LongRoPE and window metadata, and every malformed part refused by name.</summary>
public class Phi3LoaderTests
{
    /// <summary>Copies a file, changing or dropping metadata and tensors; <paramref name="tensors"/> may replace one by several.</summary>
    private static void Rewrite(string source, string target, string? dropKey = null, (string Key, object Value)? set = null,
        Func<GgufFile, GgufTensorInfo, IEnumerable<(string Name, long[] Shape, byte[] Data)>>? tensors = null)
    {
        using var f = GgufFile.Open(source);
        var w = new GgufWriter();
        foreach (var (k, v) in f.Metadata)
            if (k != dropKey) w.Add(k, set is { } s && s.Key == k ? s.Value : v);
        foreach (var t in f.Tensors)
            foreach (var (name, shape, data) in tensors?.Invoke(f, t) ?? [(t.Name, t.Shape, f.GetTensor(t.Name).Bytes.ToArray())])
                w.AddTensor(name, t.Type, shape, data);
        w.Write(target);
    }

    private static string Tiny(TempDir dir, LlamaFileType type = LlamaFileType.F32)
    {
        string path = dir.File("phi3.gguf");
        SyntheticModel.Write(path, SyntheticModelSpec.Phi3Tiny, type, seed: 1);
        return path;
    }

    [Fact]
    public void FusedTensorsAreRowViewsOfTheFile()
    {
        using var dir = new TempDir();
        using var f = GgufFile.Open(Tiny(dir));
        var (c, w) = GgufModelLoader.Load(f);
        Assert.Equal(("phi3", RopeStyle.NeoX, 256, 256), (c.Architecture, c.RopeStyle, c.ContextLength, c.SlidingWindow));
        Assert.Equal(MathF.Sqrt(1 + MathF.Log(2) / MathF.Log(128)), c.RopeAttnFactor, 6);
        Assert.Equal((0.25f, 1f), (c.QueryScale, c.AttentionScoreScale));
        Assert.Equal(128, c.LongRope!.OriginalContext);
        Assert.Equal(8f, c.LongRope.Long[^1]);
        Assert.Equal(1.5f, c.LongRope.Short[^1]);
        Assert.Same(c.LongRope.Long, c.ActiveRopeFactors);
        Assert.Same(c.LongRope.Short, (c with { ContextLength = 128 }).ActiveRopeFactors);
        var qkv = f.GetTensor("blk.1.attn_qkv.weight");
        var up = f.GetTensor("blk.1.ffn_up.weight");
        var l = w.Layers[1];
        Assert.Equal([qkv.Data, qkv.Data + 64 * (nint)qkv.RowBytes, qkv.Data + 96 * (nint)qkv.RowBytes], new[] { l.Wq.Data, l.Wk.Data, l.Wv.Data });
        Assert.Equal([64L, 32L, 32L], new[] { l.Wq.Rows, l.Wk.Rows, l.Wv.Rows }.Select(r => (long)r));
        Assert.Equal((up.Data, up.Data + 128 * (nint)up.RowBytes), (l.WGate!.Data, l.WUp!.Data));
        Assert.Equal("blk.1.ffn_up.weight[128:256]", l.WUp.Name);
    }

    /// <summary>
    /// Q4_0 views pack like whole tensors: the same weights written as separate attn_q/k/v tensors (which llama.cpp's phi3
    /// graph also runs) give the same logits, bit for bit, as the fused file's views.
    /// </summary>
    [Fact]
    public void PackedViewsGiveTheSameLogitsAsSeparateTensors()
    {
        using var dir = new TempDir();
        string fused = Tiny(dir, LlamaFileType.Q4_0), split = dir.File("split.gguf");
        Rewrite(fused, split, tensors: (f, t) =>
        {
            var bytes = f.GetTensor(t.Name).Bytes.ToArray();
            if (!t.Name.EndsWith("attn_qkv.weight", StringComparison.Ordinal)) return [(t.Name, t.Shape, bytes)];
            int rowBytes = bytes.Length / (int)t.Shape[1];
            string p = t.Name[..^"attn_qkv.weight".Length];
            return [(p + "attn_q.weight", [t.Shape[0], 64], bytes[..(64 * rowBytes)]),
                    (p + "attn_k.weight", [t.Shape[0], 32], bytes[(64 * rowBytes)..(96 * rowBytes)]),
                    (p + "attn_v.weight", [t.Shape[0], 32], bytes[(96 * rowBytes)..])];
        });
        float[] Logits(string path)
        {
            using var m = ModelLoader.Load(path);
            Assert.All(m.Transformer.Weights.Layers, l => Assert.NotNull(l.Wk.Packed));
            var c = m.Config;
            using var cache = new KvCache(c.NumLayers, m.Transformer.KvDim, 8, 16);
            var batch = new ForwardBatch();
            batch.Add([1, 300, 301, 302, 303, 304], 0, Enumerable.Range(0, 8).ToArray());
            var logits = new float[c.VocabSize];
            m.Transformer.Forward(batch, cache, logits);
            return logits;
        }
        Assert.Equal(Logits(fused), Logits(split));
    }

    [Fact]
    public void ContextOptionPicksShortFactorsAndTheWindowSlidesEveryLayer()
    {
        using var dir = new TempDir();
        string path = Tiny(dir);
        using (var m = ModelLoader.Load(path, new ModelLoadOptions { ContextLength = 128 }))
            Assert.Same(m.Config.LongRope!.Short, m.Config.ActiveRopeFactors);
        Rewrite(path, dir.File("w.gguf"), set: ("phi3.attention.sliding_window", 64u));
        using var w = ModelLoader.Load(dir.File("w.gguf"));
        // The window masks (as llama.cpp's does for phi3) rather than cutting the context.
        Assert.Equal(64, w.Config.SlidingWindow);
        Assert.All(Enumerable.Range(0, w.Config.NumLayers), l => Assert.True(w.Config.IsSliding(l)));
        Assert.Equal(256, w.Config.ContextLength);
        Assert.Same(w.Config.LongRope!.Long, w.Config.ActiveRopeFactors);
    }

    [Theory]
    [InlineData("phi3.attention.sliding_window", null, "missing metadata 'phi3.attention.sliding_window'")]
    [InlineData("phi3.attention.head_count_kv", 1u, "tensor 'blk.0.attn_qkv.weight' has shape [64, 128], expected [64, 96]")]
    [InlineData("phi3.feed_forward_length", 64u, "tensor 'blk.0.ffn_up.weight' has shape [64, 256], expected [64, 128]")]
    [InlineData("phi3.rope.scaling.attn_factor", -1f, "metadata 'phi3.rope.scaling.attn_factor' = -1 must be positive")]
    [InlineData("phi3.rope.scaling.original_context_length", 0u, "metadata 'phi3.rope.scaling.original_context_length' = 0 is out of range")]
    [InlineData("phi3.rope.dimension_count", 8u, "tensor 'rope_factors_long.weight' is F32 [8], expected F32 [4]")]
    public void MalformedHeaderIsRefused(string key, object? value, string message)
    {
        using var dir = new TempDir();
        Rewrite(Tiny(dir), dir.File("bad.gguf"), dropKey: value is null ? key : null, set: value is null ? null : (key, value));
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir.File("bad.gguf")));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("blk.1.attn_qkv.weight", "missing tensor 'blk.1.attn_qkv.weight'")]
    [InlineData("rope_factors_short.weight", "tensor 'rope_factors_short.weight' is missing")]
    [InlineData("output.weight", "phi3 needs tensor 'output.weight'")]
    public void MissingTensorIsRefused(string tensor, string message)
    {
        using var dir = new TempDir();
        Rewrite(Tiny(dir), dir.File("bad.gguf"), tensors: (f, t) => t.Name == tensor ? [] : [(t.Name, t.Shape, f.GetTensor(t.Name).Bytes.ToArray())]);
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir.File("bad.gguf")));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void NonPositiveRopeFactorIsRefused()
    {
        using var dir = new TempDir();
        Rewrite(Tiny(dir), dir.File("bad.gguf"), tensors: (f, t) =>
        {
            var bytes = f.GetTensor(t.Name).Bytes.ToArray();
            if (t.Name == "rope_factors_long.weight") BitConverter.GetBytes(0f).CopyTo(bytes, 4);
            return [(t.Name, t.Shape, bytes)];
        });
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir.File("bad.gguf")));
        Assert.Contains("tensor 'rope_factors_long.weight' holds 0", e.Message);
    }
}
