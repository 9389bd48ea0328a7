using System.Runtime.InteropServices;
using Loom.Core.Quantization;
using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Formats.Gguf;
using Loom.Tests;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

public class SyntheticModelTests
{
    private static SyntheticModelSpec Spec(string arch) => arch switch
    {
        "qwen2" => SyntheticModelSpec.Tiny with { Architecture = "qwen2", TiedEmbeddings = true, RmsNormEps = 1e-6f, RopeTheta = 1e6f },
        "qwen3" => SyntheticModelSpec.Tiny with { Architecture = "qwen3", HeadDim = 32 }, // 4 × 32 != 64: key_length written
        _ => SyntheticModelSpec.Tiny,
    };

    private static List<string> ExpectedTensorNames(SyntheticModelSpec s)
    {
        var names = new List<string> { "token_embd.weight" };
        for (int i = 0; i < s.NumLayers; i++)
        {
            names.AddRange(new[] { "attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight" }.Select(n => $"blk.{i}.{n}"));
            if (s.QkvBias) names.AddRange(new[] { "attn_q.bias", "attn_k.bias", "attn_v.bias" }.Select(n => $"blk.{i}.{n}"));
            if (s.QkNorm) names.AddRange(new[] { "attn_q_norm.weight", "attn_k_norm.weight" }.Select(n => $"blk.{i}.{n}"));
            names.AddRange(new[] { "attn_output.weight", "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight" }.Select(n => $"blk.{i}.{n}"));
        }
        names.Add("output_norm.weight");
        if (!s.TiedEmbeddings) names.Add("output.weight");
        return names;
    }

    [Theory]
    [InlineData("llama", GgmlType.F32)]
    [InlineData("qwen2", GgmlType.F16)]
    [InlineData("qwen3", GgmlType.BF16)]
    public void WritesTheLayoutLlamaCppExpects(string arch, GgmlType type)
    {
        var spec = Spec(arch);
        using var dir = new TempDir();
        SyntheticModel.Write(dir.File("m.gguf"), spec, type, seed: 1);
        using var f = GgufFile.Open(dir.File("m.gguf"));

        Assert.Equal(arch, f.GetString("general.architecture"));
        Assert.Equal("synthetic-tiny", f.GetString("general.name"));
        Assert.Equal((uint)SyntheticModel.FileType(type), f.Metadata["general.file_type"]);
        Assert.Equal(2u, f.Metadata["general.quantization_version"]);
        Assert.Equal(256u, f.Metadata[$"{arch}.context_length"]);
        Assert.Equal(64u, f.Metadata[$"{arch}.embedding_length"]);
        Assert.Equal(2u, f.Metadata[$"{arch}.block_count"]);
        Assert.Equal(128u, f.Metadata[$"{arch}.feed_forward_length"]);
        Assert.Equal(4u, f.Metadata[$"{arch}.attention.head_count"]);
        Assert.Equal(2u, f.Metadata[$"{arch}.attention.head_count_kv"]);
        Assert.Equal(spec.RmsNormEps, f.Metadata[$"{arch}.attention.layer_norm_rms_epsilon"]);
        Assert.Equal(spec.RopeTheta, f.Metadata[$"{arch}.rope.freq_base"]);
        Assert.Equal((uint)spec.EffectiveHeadDim, f.Metadata[$"{arch}.rope.dimension_count"]);
        Assert.Equal(512u, f.Metadata[$"{arch}.vocab_size"]);
        Assert.Equal(arch == "qwen3", f.Has($"{arch}.attention.key_length"));
        if (arch == "qwen3")
        {
            Assert.Equal(32u, f.Metadata["qwen3.attention.key_length"]);
            Assert.Equal(32u, f.Metadata["qwen3.attention.value_length"]);
        }
        Assert.Equal("llama", f.GetString("tokenizer.ggml.model"));
        Assert.Equal("default", f.GetString("tokenizer.ggml.pre"));
        Assert.Equal(512, f.GetStringArray("tokenizer.ggml.tokens")!.Length);
        Assert.Equal(GgufValueType.Float32, f.GetArray("tokenizer.ggml.scores")!.ElementType);
        Assert.Equal(GgufValueType.Int32, f.GetArray("tokenizer.ggml.token_type")!.ElementType);
        Assert.Equal(1u, f.Metadata["tokenizer.ggml.bos_token_id"]);
        Assert.Equal(2u, f.Metadata["tokenizer.ggml.eos_token_id"]);
        Assert.Equal(0u, f.Metadata["tokenizer.ggml.unknown_token_id"]);
        Assert.Equal(true, f.GetBool("tokenizer.ggml.add_bos_token"));
        Assert.Equal(false, f.GetBool("tokenizer.ggml.add_eos_token"));

        Assert.Equal(ExpectedTensorNames(spec), f.Tensors.Select(t => t.Name).ToList());
        long q = spec.NumHeads * spec.EffectiveHeadDim, kv = spec.NumKvHeads * spec.EffectiveHeadDim;
        void Shape(string name, GgmlType expectedType, params long[] shape)
        {
            var t = f.FindTensor(name)!;
            Assert.Equal(shape, t.Shape);
            Assert.Equal(expectedType, t.Type);
        }
        Shape("token_embd.weight", type, 64, 512);
        Shape("blk.1.attn_norm.weight", GgmlType.F32, 64);
        Shape("blk.1.attn_q.weight", type, 64, q);
        Shape("blk.1.attn_k.weight", type, 64, kv);
        Shape("blk.1.attn_v.weight", type, 64, kv);
        Shape("blk.1.attn_output.weight", type, q, 64);
        Shape("blk.1.ffn_gate.weight", type, 64, 128);
        Shape("blk.1.ffn_up.weight", type, 64, 128);
        Shape("blk.1.ffn_down.weight", type, 128, 64);
        Shape("output_norm.weight", GgmlType.F32, 64);
        if (arch == "qwen2") Shape("blk.0.attn_k.bias", GgmlType.F32, kv);
        if (arch == "qwen3") Shape("blk.0.attn_q_norm.weight", GgmlType.F32, 32);
        if (arch == "llama") Shape("output.weight", type, 64, 512);
    }

    private static float[] Values(GgufFile f, string name)
    {
        var t = f.GetTensor(name);
        var v = new float[t.ElementCount];
        Quants.Dequantize(t.Type, t.Bytes, v);
        return v;
    }

    [Fact]
    public void WeightsHaveTheIntendedScale()
    {
        var spec = SyntheticModelSpec.Tiny with { Dim = 256, FfnDim = 512 };
        using var dir = new TempDir();
        SyntheticModel.Write(dir.File("m.gguf"), spec, GgmlType.F32, seed: 3);
        using var f = GgufFile.Open(dir.File("m.gguf"));
        foreach (var (name, fanIn) in new[] { ("blk.0.ffn_up.weight", 256), ("blk.0.ffn_down.weight", 512), ("token_embd.weight", 256) })
        {
            var v = Values(f, name);
            double mean = v.Average(), std = Math.Sqrt(v.Select(x => (x - mean) * (x - mean)).Average());
            Assert.InRange(mean, -0.01, 0.01);
            Assert.InRange(std * Math.Sqrt(fanIn), 0.95, 1.05);
            Assert.True(v.Distinct().Count() > v.Length / 2, $"{name} values are degenerate");
        }
        var norm = Values(f, "blk.1.ffn_norm.weight");
        Assert.All(norm, x => Assert.InRange(x, 0.8f, 1.2f));
        Assert.True(norm.Distinct().Count() > 100);
    }

    [Fact]
    public void SameSeedSameBytesDifferentSeedDifferentWeights()
    {
        using var dir = new TempDir();
        var spec = Spec("qwen2");
        SyntheticModel.Write(dir.File("a.gguf"), spec, GgmlType.F16, seed: 7);
        SyntheticModel.Write(dir.File("b.gguf"), spec, GgmlType.F16, seed: 7);
        SyntheticModel.Write(dir.File("c.gguf"), spec, GgmlType.F16, seed: 8);
        Assert.Equal(File.ReadAllBytes(dir.File("a.gguf")), File.ReadAllBytes(dir.File("b.gguf")));
        using var a = GgufFile.Open(dir.File("a.gguf"));
        using var c = GgufFile.Open(dir.File("c.gguf"));
        Assert.Equal(a.DataOffset, c.DataOffset);
        foreach (var t in a.Tensors)
            Assert.NotEqual(a.GetTensor(t.Name).Bytes.ToArray(), c.GetTensor(t.Name).Bytes.ToArray());
        // Tensors differ from each other too: each is seeded by its name.
        Assert.NotEqual(a.GetTensor("blk.0.ffn_gate.weight").Bytes.ToArray(), a.GetTensor("blk.0.ffn_up.weight").Bytes.ToArray());
    }

    [Fact]
    public void EmbedsARealSentencePieceVocabulary()
    {
        var (tokens, scores, types) = SyntheticModelVocab.Build(512);
        Assert.Equal(["<unk>", "<s>", "</s>", "<0x00>"], tokens[..4]);
        Assert.Equal("<0xFF>", tokens[258]);
        Assert.Equal([2, 3, 3], types[..3]);
        Assert.All(types[3..259], t => Assert.Equal(6, t));
        Assert.Equal("▁", tokens[259]);
        Assert.Equal(tokens.Length, tokens.Distinct().Count());
        foreach (var piece in new[] { "▁the", "▁a", "▁and", "ing", "▁Once", "▁upon", "▁time", "a", "Z", "~" })
        {
            int id = Array.IndexOf(tokens, piece);
            Assert.True(id > 258, $"missing '{piece}'");
            Assert.Equal(1, types[id]);
            for (int len = 1; len < piece.Length; len++) Assert.Contains(piece[..len], tokens); // reachable by merges
        }
        var normal = Enumerable.Range(0, 512).Where(i => types[i] == 1).Select(i => scores[i]).ToArray();
        Assert.True(normal.Zip(normal.Skip(1)).All(p => p.First > p.Second), "normal scores must descend");
        var (bigTokens, _, bigTypes) = SyntheticModelVocab.Build(2000);
        Assert.Equal(2000, bigTokens.Distinct().Count());
        Assert.Equal(5, bigTypes[^1]); // padded with unused placeholders
        Assert.Equal(tokens, bigTokens[..512]);
        Assert.Equal(32000, SyntheticModelVocab.Build(32000).Tokens.Distinct().Count());
    }

    [Fact]
    public void SpecValidatesDimensionsAgainstTheBlockSize()
    {
        Assert.Throws<ArgumentException>(() => SyntheticModelSpec.Tiny.Validate(GgmlType.Q4_K)); // 64 is not a multiple of 256
        (SyntheticModelSpec.Tiny with { Dim = 256, FfnDim = 512 }).Validate(GgmlType.Q4_K);
        SyntheticModelSpec.Tiny.Validate(GgmlType.Q8_0);
        Assert.Throws<ArgumentException>(() => SyntheticModelSpec.Tiny.Validate(GgmlType.Q8_K)); // not a model file type
        Assert.Throws<ArgumentException>(() => (SyntheticModelSpec.Tiny with { Architecture = "gpt2" }).Validate(GgmlType.F32));
        Assert.Throws<ArgumentException>(() => (SyntheticModelSpec.Tiny with { NumKvHeads = 3 }).Validate(GgmlType.F32));
        Assert.Throws<ArgumentException>(() => (SyntheticModelSpec.Tiny with { VocabSize = 100 }).Validate(GgmlType.F32));
        Assert.Throws<ArgumentException>(() => (SyntheticModelSpec.Tiny with { Architecture = "qwen2", HeadDim = 32 }).Validate(GgmlType.F32));
        using var dir = new TempDir();
        Assert.Throws<ArgumentException>(() => SyntheticModel.Write(dir.File("x.gguf"), SyntheticModelSpec.Tiny, GgmlType.Q6_K));
    }

    [Fact]
    public void QuantizedMatricesWorkOnceQuantsSupportThem()
    {
        using var dir = new TempDir();
        bool supported;
        try { Quants.Quantize(GgmlType.Q8_0, new float[32], new byte[34]); supported = true; }
        catch (NotSupportedException) { supported = false; }
        if (!supported)
        {
            Assert.Throws<NotSupportedException>(() => SyntheticModel.Write(dir.File("q.gguf"), SyntheticModelSpec.Tiny, GgmlType.Q8_0));
            Assert.False(File.Exists(dir.File("q.gguf")));
            return;
        }
        SyntheticModel.Write(dir.File("q.gguf"), SyntheticModelSpec.Tiny, GgmlType.Q8_0);
        using var f = GgufFile.Open(dir.File("q.gguf"));
        Assert.Equal(GgmlType.Q8_0, f.FindTensor("blk.0.attn_q.weight")!.Type);
        Assert.Equal(GgmlType.F32, f.FindTensor("blk.0.attn_norm.weight")!.Type);
    }

    [Theory]
    [InlineData("tinyllama-1.1b", 1_100_048_384L)]
    [InlineData("llama-3.2-1b", 1_235_814_400L)]
    [InlineData("qwen2.5-0.5b", 494_032_768L)]
    [InlineData("stories110m", 134_105_856L)]
    public void PresetsHaveTheRealParameterCounts(string name, long expected)
    {
        var spec = new[] { SyntheticModelSpec.TinyLlama1_1B, SyntheticModelSpec.Llama3_2_1B, SyntheticModelSpec.Qwen2_5_0_5B, SyntheticModelSpec.Stories110M }
            .Single(s => s.Name == name);
        spec.Validate(GgmlType.F16);
        long d = spec.Dim, hd = spec.EffectiveHeadDim, q = spec.NumHeads * hd, kv = spec.NumKvHeads * hd;
        long perLayer = 2 * d + d * q + 2 * d * kv + q * d + 3 * d * spec.FfnDim + (spec.QkvBias ? q + 2 * kv : 0);
        long total = d * spec.VocabSize * (spec.TiedEmbeddings ? 1 : 2) + d + spec.NumLayers * perLayer;
        Assert.Equal(expected, total);
    }

    [Fact]
    public void StreamsInsteadOfBuildingTheModelInMemory()
    {
        using var dir = new TempDir();
        var spec = SyntheticModelSpec.Tiny with { Dim = 256, FfnDim = 512, VocabSize = 8192 };
        long before = GC.GetAllocatedBytesForCurrentThread();
        SyntheticModel.Write(dir.File("s.gguf"), spec, GgmlType.F32);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long size = new FileInfo(dir.File("s.gguf")).Length;
        Assert.True(size > 16L << 20, $"file is only {size} bytes");
        Assert.True(allocated < size / 4, $"allocated {allocated >> 20} MiB writing a {size >> 20} MiB file");
    }

    [Fact]
    public void MatchesKeyTypesAndTensorNamesOfTheShippedModel() => MatchesKeyTypesAndTensorNamesOf(RepoModels.Stories260K);

    [SharedFact]
    public void MatchesKeyTypesAndTensorNamesOfAnotherConverterWrittenFile() =>
        MatchesKeyTypesAndTensorNamesOf(SharedData.Path("models/llama-2-tiny-random.gguf"));

    private static void MatchesKeyTypesAndTensorNamesOf(string path)
    {
        using var real = GgufFile.Open(path);
        using var dir = new TempDir();
        SyntheticModel.Write(dir.File("m.gguf"), SyntheticModelSpec.Tiny with { NumLayers = 5 }, GgmlType.F16);
        using var ours = GgufFile.Open(dir.File("m.gguf"));
        int shared = 0;
        foreach (var (key, value) in real.Metadata)
        {
            if (!ours.Metadata.TryGetValue(key, out var mine)) continue;
            shared++;
            Assert.Equal(value.GetType(), mine.GetType());
            if (value is GgufArray a) Assert.Equal(a.ElementType, ((GgufArray)mine).ElementType);
        }
        Assert.True(shared >= 15, $"only {shared} keys in common");
        foreach (var t in real.Tensors)
        {
            Assert.True(ours.HasTensor(t.Name), $"synthetic model lacks '{t.Name}'");
            Assert.Equal(t.Shape.Length, ours.FindTensor(t.Name)!.Shape.Length);
        }
        Assert.Equal((byte)GgmlType.F32, (byte)ours.FindTensor("blk.0.attn_norm.weight")!.Type);
    }
}
