using System.Collections;
using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Formats.Gguf;
using Loom.Models.Formats.SafeTensors;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>
/// Each architecture llama.cpp's converter takes from Hugging Face: a synthetic F32 GGUF model written back out as the
/// HF checkpoint it would have been converted from (<see cref="HfCheckpointFromGguf"/>) loads to the same configuration
/// and the same logits as the GGUF.
/// </summary>
public class HfArchitectureTests
{
    internal static SyntheticModelSpec Spec(string name) => name switch
    {
        "mixtral-tiny" => SyntheticModelSpec.MixtralTiny,
        "qwen3moe-tiny" => SyntheticModelSpec.Qwen3MoeTiny,
        "qwen2moe-tiny" => SyntheticModelSpec.Qwen2MoeTiny,
        "olmoe-tiny" => SyntheticModelSpec.OlmoeTiny,
        "gemma2-tiny" => SyntheticModelSpec.Gemma2Tiny,
        "gemma3-tiny" => SyntheticModelSpec.Gemma3Tiny,
        "phi3-tiny" => SyntheticModelSpec.Phi3Tiny,
        "deepseek2-tiny" => SyntheticModelSpec.Deepseek2Tiny,
        // V2-Lite's layout: one query matrix (no q LoRA), two shared experts, YaRN ×4 from 64 positions.
        "deepseek2-lite-tiny" => SyntheticModelSpec.Deepseek2Tiny with
        {
            Mla = SyntheticModelSpec.Deepseek2Tiny.Mla! with { QLoraRank = 0, SharedExperts = 2, YarnFactor = 4, YarnOrigContext = 64, YarnLogMultiplier = 0.125f },
        },
        _ => throw new ArgumentException(name),
    };

    /// <summary>Prompts within and past Gemma's 16-position window.</summary>
    private static readonly int[][] Prompts =
    [
        [1, 300, 301, 302, 303],
        [.. Enumerable.Range(0, 23).Select(i => 1 + i * 17 % 500)],
        [.. Enumerable.Range(0, 41).Select(i => 3 + i * 29 % 505)],
    ];

    /// <summary>Logits at every position of each prompt, each prompt in a fresh cache.</summary>
    private static float[][] Logits(ModelConfig c, ModelWeights w)
    {
        using var t = new Transformer(c, w);
        return Prompts.Select(prompt =>
        {
            const int BlockSize = 16;
            int blocks = (prompt.Length + BlockSize - 1) / BlockSize;
            using var cache = KvCache.For(c, blocks, BlockSize);
            var batch = new ForwardBatch();
            batch.Add(prompt, 0, Enumerable.Range(0, blocks).ToArray(), LogitRequest.All);
            var logits = new float[prompt.Length * c.VocabSize];
            t.Forward(batch, cache, logits);
            return logits;
        }).ToArray();
    }

    /// <summary>Writes the synthetic model as F32 GGUF and as the HF directory it came from.</summary>
    internal static (string Gguf, string HfDir) WriteBoth(TempDir dir, SyntheticModelSpec spec, GgmlType type = GgmlType.F32)
    {
        string gguf = dir.File("model.gguf"), hf = Directory.CreateDirectory(dir.File("hf")).FullName;
        SyntheticModel.Write(gguf, spec, type);
        HfCheckpointFromGguf.Write(gguf, spec, hf);
        return (gguf, hf);
    }

    /// <summary>Every public property equal, arrays by content.</summary>
    private static void AssertSameConfig(ModelConfig expected, ModelConfig actual)
    {
        foreach (var p in typeof(ModelConfig).GetProperties())
        {
            object? e = p.GetValue(expected), a = p.GetValue(actual);
            if (e is IEnumerable ea && a is IEnumerable aa && e is not string) Assert.True(ea.Cast<object>().SequenceEqual(aa.Cast<object>()), p.Name);
            else if (e is LongRope el && a is LongRope al)
                Assert.True(el.Long.SequenceEqual(al.Long) && el.Short.SequenceEqual(al.Short) && el.OriginalContext == al.OriginalContext, p.Name);
            else Assert.True(Equals(e, a), $"{p.Name}: GGUF {e}, HF {a}");
        }
    }

    /// <summary>
    /// The converter's transforms are exact in F32 (stacking, Gemma's norm − 1 + 1 for weights in [0.5, 2], Phi-3's row
    /// views; DeepSeek-V2 needs none but the experts'), so the logits are equal bit for bit, except Mixtral's: HF keeps rotate-half Q/K rows where the GGUF has
    /// them permuted for interleaved RoPE. Each rotated pair gets the same numbers either way, but Q·K sums its
    /// products in another order, which may move the logits by float rounding (on this AVX2 machine they come out
    /// equal; the bound allows for other kernels).
    /// </summary>
    [Theory]
    [InlineData("mixtral-tiny")]
    [InlineData("qwen3moe-tiny")]
    [InlineData("qwen2moe-tiny")]
    [InlineData("olmoe-tiny")]
    [InlineData("gemma2-tiny")]
    [InlineData("gemma3-tiny")]
    [InlineData("phi3-tiny")]
    [InlineData("deepseek2-tiny")]
    [InlineData("deepseek2-lite-tiny")]
    public void HfCheckpointGivesTheGgufModel(string shape) => SameModel(shape, GgmlType.F32);

    /// <summary>
    /// A BF16 checkpoint (matrices BF16, norms and routers F32, as converted): the stacked experts and every other
    /// matrix stay BF16 and give the GGUF's logits bit for bit.
    /// </summary>
    [Theory]
    [InlineData("mixtral-tiny")]
    [InlineData("qwen2moe-tiny")]
    [InlineData("gemma3-tiny")]
    [InlineData("phi3-tiny")]
    [InlineData("deepseek2-tiny")]
    public void Bf16CheckpointGivesTheGgufModel(string shape) => SameModel(shape, GgmlType.BF16);

    private static void SameModel(string shape, GgmlType type)
    {
        using var dir = new TempDir();
        var spec = Spec(shape);
        var (gguf, hf) = WriteBoth(dir, spec, type);
        var (gc, gw) = GgufModelLoader.Load(GgufFile.Open(gguf)); // the weights own the file
        var (hc, hw) = HfModelLoader.Load(hf);
        // Only llama's Q/K rows are permuted by the converter; DeepSeek's checkpoints are already interleaved.
        bool permuted = spec.Architecture == "llama";
        Assert.Equal(permuted ? RopeStyle.NeoX : gc.RopeStyle, hc.RopeStyle);
        AssertSameConfig(gc, hc with { RopeStyle = gc.RopeStyle });
        Assert.Equal(gw.All().Count(), hw.All().Count());

        var want = Logits(gc, gw);
        var got = Logits(hc, hw);
        for (int i = 0; i < want.Length; i++)
        {
            if (!permuted) { Assert.Equal(want[i], got[i]); continue; }
            float range = want[i].Max(MathF.Abs), worst = want[i].Zip(got[i], (a, b) => MathF.Abs(a - b)).Max();
            Assert.True(worst <= 1e-5f * range, $"prompt {i}: logits differ by {worst} of {range}");
        }
    }
}

/// <summary>What the loader copies and what it leaves mapped, for a checkpoint in BF16 as most are published.</summary>
public class HfArchitectureTransformTests
{
    private static StTensor ToBf16(StTensor t)
    {
        var f = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.Data);
        var bits = new ushort[f.Length];
        Loom.Core.Quantization.FloatFormats.F32ToBF16(f, bits);
        return new StTensor(t.Name, "BF16", t.Shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(bits.AsSpan()).ToArray());
    }

    private static float[] Floats(StTensor t) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(t.Data).ToArray().Select(Loom.Core.Quantization.FloatFormats.BF16ToF32).ToArray();

    private static float[] Values(WeightTensor t) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.Bytes).ToArray();

    private static (List<StTensor> Tensors, ModelWeights Weights, SafeTensorsCheckpoint Checkpoint) LoadBf16(TempDir dir, SyntheticModelSpec spec)
    {
        string gguf = dir.File("model.gguf");
        SyntheticModel.Write(gguf, spec, GgmlType.F32);
        var tensors = HfCheckpointFromGguf.Tensors(gguf, spec).Select(ToBf16).ToList();
        File.WriteAllText(dir.File("config.json"), System.Text.Json.JsonSerializer.Serialize(HfCheckpointFromGguf.Config(spec)));
        SafeTensorsTestWriter.Write(dir.File("model.safetensors"), tensors);
        var (_, w) = HfModelLoader.Load(dir.Path);
        return (tensors, w, w.Owners.OfType<SafeTensorsCheckpoint>().Single());
    }

    [Fact]
    public void ExpertsAreStackedRoutersWidenedAndTheRestMapped()
    {
        using var dir = new TempDir();
        var (tensors, w, ckpt) = LoadBf16(dir, SyntheticModelSpec.Qwen2MoeTiny);
        using var _ = w;
        var byName = tensors.ToDictionary(t => t.Name);
        var moe = w.Layers[1].Moe!;
        Assert.Equal((GgmlType.F32, GgmlType.F32), (moe.Router.Type, moe.SharedGateInp!.Type));
        Assert.Equal(Floats(byName["model.layers.1.mlp.gate.weight"]), Values(moe.Router));
        Assert.Equal(GgmlType.BF16, moe.DownExps.Type);
        Assert.Equal([64L, 64, 8], moe.DownExps.Shape);
        // Expert e's matrix is the e-th slab of the stack, byte for byte.
        for (int e = 0; e < 8; e++)
            Assert.True(moe.DownExps.Bytes.Slice(e * 64 * 64 * 2, 64 * 64 * 2).SequenceEqual(byName[$"model.layers.1.mlp.experts.{e}.down_proj.weight"].Data));
        Assert.Same(ckpt.GetTensor("model.layers.1.mlp.shared_expert.up_proj.weight"), moe.UpShexp);
        Assert.Same(ckpt.GetTensor("model.layers.0.self_attn.q_proj.weight"), w.Layers[0].Wq);
        Assert.Same(ckpt.GetTensor("model.layers.0.input_layernorm.weight"), w.Layers[0].AttnNorm);
    }

    [Fact]
    public void GemmaNormsGainOneInF32()
    {
        using var dir = new TempDir();
        var (tensors, w, ckpt) = LoadBf16(dir, SyntheticModelSpec.Gemma3Tiny);
        using var _ = w;
        var byName = tensors.ToDictionary(t => t.Name);
        void PlusOne(string name, WeightTensor t)
        {
            Assert.Equal(GgmlType.F32, t.Type);
            Assert.Equal(Floats(byName[name]).Select(x => x + 1f), Values(t));
        }
        PlusOne("model.norm.weight", w.OutputNorm);
        PlusOne("model.layers.2.input_layernorm.weight", w.Layers[2].AttnNorm);
        PlusOne("model.layers.2.post_attention_layernorm.weight", w.Layers[2].AttnPostNorm!);
        PlusOne("model.layers.2.pre_feedforward_layernorm.weight", w.Layers[2].FfnNorm);
        PlusOne("model.layers.2.post_feedforward_layernorm.weight", w.Layers[2].FfnPostNorm!);
        PlusOne("model.layers.2.self_attn.q_norm.weight", w.Layers[2].QNorm!);
        PlusOne("model.layers.2.self_attn.k_norm.weight", w.Layers[2].KNorm!);
        Assert.Same(ckpt.GetTensor("model.embed_tokens.weight"), w.Output);
        Assert.Same(ckpt.GetTensor("model.layers.2.mlp.down_proj.weight"), w.Layers[2].WDown);
    }
}

/// <summary>transformers v5 configs, which move RoPE's keys into <c>rope_parameters</c>, read as the v4 forms do.</summary>
public class HfArchitectureRopeParametersTests
{
    private static ModelConfig Read(TempDir dir, string name, Dictionary<string, object?> config)
    {
        string path = dir.File(name);
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(config));
        return HfModelLoader.ReadConfig(path);
    }

    [Fact]
    public void Gemma3KeepsOneSetPerLayerType()
    {
        using var dir = new TempDir();
        var spec = SyntheticModelSpec.Gemma3Tiny;
        var v4 = HfCheckpointFromGguf.Config(spec);
        v4["rope_scaling"] = new Dictionary<string, object> { ["rope_type"] = "linear", ["factor"] = 8.0 };
        var v5 = HfCheckpointFromGguf.Config(spec);
        v5.Remove("rope_theta");
        v5.Remove("rope_local_base_freq");
        v5["rope_parameters"] = new Dictionary<string, object>
        {
            ["full_attention"] = new Dictionary<string, object> { ["rope_type"] = "linear", ["factor"] = 8.0, ["rope_theta"] = 1000000.0 },
            ["sliding_attention"] = new Dictionary<string, object> { ["rope_type"] = "default", ["rope_theta"] = 10000.0 },
        };
        var a = Read(dir, "v4.json", v4);
        var b = Read(dir, "v5.json", v5);
        Assert.Equal((1000000f, 10000f, 0.125f), (b.RopeTheta, b.SlidingRopeTheta, b.RopeFreqScale));
        Assert.Equal(a with { SlidingLayers = null }, b with { SlidingLayers = null });
        Assert.Equal(a.SlidingLayers!, b.SlidingLayers!);

        ((Dictionary<string, object>)((Dictionary<string, object>)v5["rope_parameters"]!)["sliding_attention"])["rope_type"] = "linear";
        var e = Assert.Throws<ModelFormatException>(() => Read(dir, "bad.json", v5));
        Assert.Contains("rope_parameters.sliding_attention rope_type 'linear' is not supported", e.Message);
    }

    [Fact]
    public void Phi3LongRopeFromRopeParameters()
    {
        using var dir = new TempDir();
        var spec = SyntheticModelSpec.Phi3Tiny;
        string gguf = dir.File("m.gguf");
        SyntheticModel.Write(gguf, spec, GgmlType.F32);
        var v4 = HfCheckpointFromGguf.Config(spec, gguf);
        var v5 = HfCheckpointFromGguf.Config(spec, gguf);
        var scaling = (Dictionary<string, object>)v5["rope_scaling"]!;
        v5.Remove("rope_scaling");
        scaling.Remove("type");
        scaling["rope_type"] = "longrope";
        scaling["rope_theta"] = v5["rope_theta"]!;
        v5.Remove("rope_theta");
        v5["rope_parameters"] = scaling;
        var a = Read(dir, "v4.json", v4);
        var b = Read(dir, "v5.json", v5);
        Assert.NotNull(b.LongRope);
        Assert.Equal(a.LongRope!.Long, b.LongRope!.Long);
        Assert.Equal(a.LongRope.Short, b.LongRope.Short);
        Assert.Equal((a.LongRope.OriginalContext, a.RopeAttnFactor, a.RopeTheta), (b.LongRope.OriginalContext, b.RopeAttnFactor, b.RopeTheta));

        // A rope_scaling that names no type is refused, as the converter refuses it, rather than run unscaled.
        scaling.Remove("rope_type");
        v4["rope_scaling"] = scaling;
        var e = Assert.Throws<ModelFormatException>(() => Read(dir, "bad.json", v4));
        Assert.Contains("phi3 rope_scaling type '' is not supported", e.Message);
    }
}
