using System.Runtime.InteropServices;
using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Formats.SafeTensors;

namespace Loom.Models.Tests;

public class HfModelLoaderTests
{
    private static float[] Values(WeightTensor t) => MemoryMarshal.Cast<byte, float>(t.Bytes).ToArray();

    /// <summary>Every role holds exactly the tensor written under its HF name, in ggml shape order.</summary>
    private static void AssertMatches(HfModelTestFiles m, ModelWeights w)
    {
        void Same(string name, WeightTensor t)
        {
            var (shape, values) = m.Tensors[name];
            Assert.Equal(shape.Reverse(), t.Shape);
            Assert.Equal(values, Values(t));
        }
        Same("model.embed_tokens.weight", w.TokenEmbedding);
        Same("model.norm.weight", w.OutputNorm);
        for (int l = 0; l < w.Layers.Length; l++)
        {
            var L = w.Layers[l];
            string p = $"model.layers.{l}.";
            Same(p + "input_layernorm.weight", L.AttnNorm);
            Same(p + "self_attn.q_proj.weight", L.Wq);
            Same(p + "self_attn.k_proj.weight", L.Wk);
            Same(p + "self_attn.v_proj.weight", L.Wv);
            Same(p + "self_attn.o_proj.weight", L.Wo);
            Same(p + "post_attention_layernorm.weight", L.FfnNorm);
            Same(p + "mlp.gate_proj.weight", L.WGate);
            Same(p + "mlp.up_proj.weight", L.WUp);
            Same(p + "mlp.down_proj.weight", L.WDown);
            if (L.Bq is not null) { Same(p + "self_attn.q_proj.bias", L.Bq); Same(p + "self_attn.k_proj.bias", L.Bk!); Same(p + "self_attn.v_proj.bias", L.Bv!); }
            if (L.QNorm is not null) { Same(p + "self_attn.q_norm.weight", L.QNorm); Same(p + "self_attn.k_norm.weight", L.KNorm!); }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void LoadsUntiedLlama(int shards)
    {
        using var dir = new TempDir();
        var m = HfModelTestFiles.Llama();
        m.Write(dir.Path, shards);
        var (c, w) = HfModelLoader.Load(dir.Path);
        using var _ = w;
        Assert.Equal(("llama", 32, 48, 2, 4, 2, 8, 40, 128), (c.Architecture, c.Dim, c.FfnDim, c.NumLayers, c.NumHeads, c.NumKvHeads, c.HeadDim, c.VocabSize, c.ContextLength));
        Assert.Equal(RopeStyle.NeoX, c.RopeStyle);
        Assert.False(c.TiedEmbeddings);
        AssertMatches(m, w);
        Assert.Equal(m.Tensors["lm_head.weight"].Values, Values(w.Output));
        Assert.Null(w.Layers[0].Bq);
        Assert.Null(w.Layers[0].QNorm);
        Assert.Equal(shards, w.Owners.OfType<Loom.Models.Formats.SafeTensors.SafeTensorsCheckpoint>().Single().Files.Count);
    }

    [Theory]
    [InlineData(true, "lm_head.weight")]
    [InlineData(true, null)]
    [InlineData(false, "lm_head.weight")]   // not declared tied, but there is no classifier: use the embedding
    [InlineData(true, "model.embed_tokens.weight")]
    public void TiedEmbeddingsUseWhicheverTensorExists(bool declaredTied, string? drop)
    {
        using var dir = new TempDir();
        var m = HfModelTestFiles.Llama();
        m.Config["tie_word_embeddings"] = declaredTied;
        string kept = drop == "model.embed_tokens.weight" ? "lm_head.weight" : "model.embed_tokens.weight";
        if (drop is not null) m.Tensors.Remove(drop);
        m.Write(dir.Path);
        var (c, w) = HfModelLoader.Load(dir.Path);
        using var _ = w;
        Assert.True(c.TiedEmbeddings);
        Assert.Same(w.TokenEmbedding, w.Output);
        Assert.Equal(m.Tensors[kept].Values, Values(w.TokenEmbedding));
    }

    [Fact]
    public void ResolvesMetadataAliasOfTiedTensor()
    {
        using var dir = new TempDir();
        var m = HfModelTestFiles.Llama();
        m.Config["tie_word_embeddings"] = true;
        var head = m.Tensors["lm_head.weight"];
        m.Tensors.Remove("model.embed_tokens.weight");
        m.Write(dir.Path);
        // Rewrite with torch's alias metadata, as TinyStories-656K has it.
        var tensors = m.Tensors.Select(t => StTensor.F32(t.Key, t.Value.Shape, t.Value.Values));
        SafeTensorsTestWriter.Write(dir.File("model.safetensors"), tensors,
            new Dictionary<string, string> { ["format"] = "pt", ["model.embed_tokens.weight"] = "lm_head.weight" });
        using var ckpt = Loom.Models.Formats.SafeTensors.SafeTensorsCheckpoint.Open(dir.Path);
        Assert.True(ckpt.Has("model.embed_tokens.weight"));
        Assert.Same(ckpt.GetTensor("lm_head.weight"), ckpt.GetTensor("model.embed_tokens.weight"));
        var (_, w) = HfModelLoader.Load(dir.Path);
        using var __ = w;
        Assert.Equal(head.Values, Values(w.TokenEmbedding));
    }

    [Fact]
    public void Qwen2HasQkvBiasWithoutSayingSo()
    {
        using var dir = new TempDir();
        var m = HfModelTestFiles.Llama(qkvBias: true);
        m.Config["architectures"] = new[] { "Qwen2ForCausalLM" };
        m.Write(dir.Path);
        var (c, w) = HfModelLoader.Load(dir.Path);
        using var _ = w;
        Assert.Equal("qwen2", c.Architecture);
        Assert.True(c.QkvBias);
        Assert.False(c.QkNorm);
        Assert.NotNull(w.Layers[1].Bv);
        AssertMatches(m, w);
    }

    [Fact]
    public void Qwen2WithoutBiasesIsRefused()
    {
        using var dir = new TempDir();
        var m = HfModelTestFiles.Llama(qkvBias: true);
        m.Config["architectures"] = new[] { "Qwen2ForCausalLM" };
        m.Tensors.Remove("model.layers.1.self_attn.k_proj.bias");
        m.Write(dir.Path);
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        Assert.Contains("model.layers.1.self_attn.k_proj.bias", e.Message);
    }

    [Fact]
    public void Qwen3HasQkNormAndItsOwnHeadDim()
    {
        using var dir = new TempDir();
        var m = HfModelTestFiles.Llama(headDim: 16, qkNorm: true);
        m.Config["architectures"] = new[] { "Qwen3ForCausalLM" };
        m.Write(dir.Path);
        var (c, w) = HfModelLoader.Load(dir.Path);
        using var _ = w;
        Assert.Equal(("qwen3", 16, 16, true, false), (c.Architecture, c.HeadDim, c.RopeDim, c.QkNorm, c.QkvBias));
        Assert.Equal([32L, 64L], w.Layers[0].Wq.Shape);
        Assert.Equal([16L], w.Layers[0].KNorm!.Shape);
        AssertMatches(m, w);
    }

    [Theory]
    [InlineData("model.layers.1.mlp.down_proj.weight", new long[] { 48, 32 })]   // transposed
    [InlineData("model.layers.0.self_attn.k_proj.weight", new long[] { 32, 32 })] // as if no GQA
    [InlineData("model.norm.weight", new long[] { 31 })]
    [InlineData("lm_head.weight", new long[] { 41, 32 })]
    public void ShapeMismatchNamesFileAndTensor(string name, long[] shape)
    {
        using var dir = new TempDir();
        var m = HfModelTestFiles.Llama();
        m.Add(name, shape);
        m.Write(dir.Path);
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        Assert.Contains(name, e.Message);
        Assert.Equal(dir.File("model.safetensors"), e.FilePath);
    }

    [Theory]
    [InlineData("model.layers.1.mlp.up_proj.weight")]
    [InlineData("model.norm.weight")]
    [InlineData("model.layers.0.input_layernorm.weight")]
    public void MissingTensorIsRefused(string name)
    {
        using var dir = new TempDir();
        var m = HfModelTestFiles.Llama();
        m.Tensors.Remove(name);
        m.Write(dir.Path, shards: 2);
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void BadShardIndexesAreRefused()
    {
        using var dir = new TempDir();
        HfModelTestFiles.Llama().Write(dir.Path, shards: 2);
        var good = File.ReadAllText(dir.File("model.safetensors.index.json"));
        void Refused(string index)
        {
            File.WriteAllText(dir.File("model.safetensors.index.json"), index);
            Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        }
        Refused(good.Replace("model-00001-of-00002", "model-00002-of-00002"));   // tensors placed in the wrong shard
        Refused(good.Replace("model-00001-of-00002", "../model-00001-of-00002")); // escapes the directory
        Refused(good.Replace("model-00001-of-00002", "model-00003-of-00002"));   // shard missing
        Refused("{\"weight_map\": 5}");
        Refused("{\"weight_map\": {");
    }

    [Fact]
    public void OutputProjectionBiasIsRefused()
    {
        using var dir = new TempDir();
        var m = HfModelTestFiles.Llama(qkvBias: true);
        m.Config["attention_bias"] = true;
        m.Add("model.layers.0.self_attn.o_proj.bias", 32);
        m.Write(dir.Path);
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        Assert.Contains("o_proj.bias", e.Message);
    }

    [Fact]
    public void HalfPrecisionTensorsKeepTheirType()
    {
        using var dir = new TempDir();
        var m = HfModelTestFiles.Llama();
        m.Write(dir.Path);
        var tensors = m.Tensors.Select(t => t.Key.EndsWith("q_proj.weight")
            ? new StTensor(t.Key, "BF16", t.Value.Shape, t.Value.Values.SelectMany(x => BitConverter.GetBytes(Loom.Core.Quantization.FloatFormats.F32ToBF16(x))).ToArray())
            : t.Key.EndsWith("norm.weight")
                ? new StTensor(t.Key, "F16", t.Value.Shape, t.Value.Values.SelectMany(x => BitConverter.GetBytes((Half)x)).ToArray())
                : StTensor.F32(t.Key, t.Value.Shape, t.Value.Values));
        SafeTensorsTestWriter.Write(dir.File("model.safetensors"), tensors);
        var (_, w) = HfModelLoader.Load(dir.Path);
        using var __ = w;
        Assert.Equal(GgmlType.BF16, w.Layers[1].Wq.Type);
        Assert.Equal(GgmlType.F16, w.OutputNorm.Type);
        Assert.Equal(GgmlType.F32, w.Layers[1].Wk.Type);
    }

    [Fact]
    public void MissingDirectoryOrWeightsIsRefused()
    {
        using var dir = new TempDir();
        Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.File("nope")));
        HfModelTestFiles.Llama().Write(dir.Path);
        File.Delete(dir.File("model.safetensors"));
        Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
    }
}
