using System.Text.Json;
using Loom.Models.Architectures;
using Loom.Models.Formats.SafeTensors;

namespace Loom.Models.Tests;

public class HfConfigTests
{
    private static ModelConfig Read(Action<Dictionary<string, object?>> edit)
    {
        var m = HfModelTestFiles.Llama();
        edit(m.Config);
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), JsonSerializer.Serialize(m.Config));
        return HfModelLoader.ReadConfig(dir.File("config.json"));
    }

    private static ModelFormatException Refused(Action<Dictionary<string, object?>> edit) =>
        Assert.Throws<ModelFormatException>(() => Read(edit));

    [Fact]
    public void DefaultsFollowTransformers()
    {
        var c = Read(j =>
        {
            j.Remove("num_key_value_heads"); j.Remove("rope_theta"); j.Remove("rms_norm_eps");
            j.Remove("tie_word_embeddings"); j.Remove("max_position_embeddings");
            j["head_dim"] = null; // some Mistral configs say null
        });
        Assert.Equal((4, 8, 8, 10000f, 1e-6f, false, 2048), (c.NumKvHeads, c.HeadDim, c.RopeDim, c.RopeTheta, c.RmsNormEps, c.TiedEmbeddings, c.ContextLength));
        Assert.Equal(RopeStyle.NeoX, c.RopeStyle);
        Assert.Equal(1f, c.RopeFreqScale);
        Assert.Null(c.RopeFreqFactors);
    }

    [Theory]
    [InlineData("LlamaForCausalLM", "llama", false, false)]
    [InlineData("MistralForCausalLM", "mistral", false, false)]
    [InlineData("Qwen2ForCausalLM", "qwen2", true, false)]
    [InlineData("Qwen3ForCausalLM", "qwen3", false, true)]
    public void ArchitecturesMap(string cls, string arch, bool bias, bool qkNorm)
    {
        var c = Read(j => j["architectures"] = new[] { cls });
        Assert.Equal((arch, bias, qkNorm), (c.Architecture, c.QkvBias, c.QkNorm));
    }

    [Fact]
    public void ModelTypeStandsInForMissingArchitectures()
    {
        var c = Read(j => { j.Remove("architectures"); j["model_type"] = "qwen2"; });
        Assert.Equal("qwen2", c.Architecture);
    }

    [Fact]
    public void UnsupportedArchitectureIsNamed()
    {
        var e = Refused(j => j["architectures"] = new[] { "GPT2LMHeadModel" });
        Assert.Contains("unsupported architecture GPT2LMHeadModel", e.Message);
    }

    [Fact]
    public void AttentionBiasFlagTurnsOnQkvBias() => Assert.True(Read(j => j["attention_bias"] = true).QkvBias);

    [Fact]
    public void PartialRotaryShrinksRopeDim() => Assert.Equal(4, Read(j => j["partial_rotary_factor"] = 0.5).RopeDim);

    [Fact]
    public void LinearScalingScalesPositions()
    {
        var c = Read(j => j["rope_scaling"] = new Dictionary<string, object> { ["type"] = "linear", ["factor"] = 4.0 });
        Assert.Equal(0.25f, c.RopeFreqScale);
        Assert.Null(c.RopeFreqFactors);
    }

    [Fact]
    public void Llama3FactorsMatchHandComputedValues()
    {
        // Head dim 8, theta 10000: frequencies 1, 0.1, 0.01, 0.001, wavelengths 2π·(1, 10, 100, 1000).
        // Original context 64 with low 1 / high 4: wavelengths under 16 keep factor 1, over 64 get the full 8,
        // and 2π·10 ≈ 62.83 is blended: smooth = (64/62.83 − 1)/3 = 0.0061973, factor = 1/((1−smooth)/8 + smooth) = 7.66737.
        var c = Read(j => j["rope_scaling"] = new Dictionary<string, object>
        {
            ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0,
            ["original_max_position_embeddings"] = 64,
        });
        var f = c.RopeFreqFactors!;
        Assert.Equal(4, f.Length);
        Assert.Equal(1f, f[0]);
        Assert.Equal(7.66737, f[1], 4);
        Assert.Equal(8f, f[2]);
        Assert.Equal(8f, f[3]);
        Assert.Equal(1f, c.RopeFreqScale);
    }

    [Fact]
    public void Llama31FactorsHaveTheKnownShape()
    {
        // Llama 3.1 8B: head dim 128, theta 500000, factor 8, low 1, high 4, original context 8192.
        var f = HfConfigRopeScaling.Llama3Factors(128, 500000, 8, 1, 4, 8192);
        Assert.Equal(64, f.Length);
        Assert.Equal(1f, f[0]);
        Assert.Equal(8f, f[^1]);
        for (int i = 1; i < f.Length; i++) Assert.True(f[i] >= f[i - 1]);
        // Wavelength 2π·500000^(i/64) crosses 2048 (8192/4) at i ≈ 28.2 and 8192 at i ≈ 34.98,
        // so exactly pairs 29..34 are blended.
        Assert.Equal(1f, f[28]);
        for (int i = 29; i <= 34; i++) Assert.True(f[i] > 1f && f[i] < 8f, $"pair {i}: {f[i]}");
        Assert.Equal(8f, f[35]);
    }

    [Theory]
    [InlineData("yarn")]
    [InlineData("dynamic")]
    [InlineData("longrope")]
    public void OtherRopeScalingsAreRefused(string type)
    {
        var e = Refused(j => j["rope_scaling"] = new Dictionary<string, object> { ["rope_type"] = type, ["factor"] = 2.0 });
        Assert.Contains(type, e.Message);
    }

    [Fact]
    public void BadValuesAreRefused()
    {
        Refused(j => j["hidden_size"] = "big");
        Refused(j => j.Remove("vocab_size"));
        Refused(j => j["num_key_value_heads"] = 3);
        Refused(j => j["num_attention_heads"] = 0);
        Refused(j => j["hidden_size"] = 1.5);
        Refused(j => j["hidden_act"] = "gelu");
        Refused(j => j["rope_scaling"] = new Dictionary<string, object> { ["type"] = "linear", ["factor"] = 0.0 });
        Refused(j => j["rope_scaling"] = new Dictionary<string, object> { ["rope_type"] = "llama3", ["low_freq_factor"] = 4.0, ["high_freq_factor"] = 4.0 });
        Refused(j => j["architectures"] = "LlamaForCausalLM");
    }

    [Theory]
    [InlineData("num_hidden_layers", 2147483647L, "layer count")]
    [InlineData("num_hidden_layers", 1025L, "layer count")]
    [InlineData("max_position_embeddings", 100000000L, "context length")]
    [InlineData("vocab_size", 16777217L, "vocab size")]
    [InlineData("intermediate_size", 2147483647L, "feed-forward length")]
    [InlineData("vocab_size", 4294967808L, "vocab_size")] // 2^32 + 512: never narrowed to 512
    public void ImplausibleHyperparametersAreRefused(string key, long value, string named)
    {
        var e = Refused(j => j[key] = value);
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void GarbageFilesAreRefused()
    {
        using var dir = new TempDir();
        foreach (var text in new[] { "", "{", "[1]", "{\"architectures\": [\"LlamaForCausalLM\"]}", "\u0000\u0001" })
        {
            File.WriteAllText(dir.File("config.json"), text);
            Assert.Throws<ModelFormatException>(() => HfModelLoader.ReadConfig(dir.File("config.json")));
        }
        File.WriteAllBytes(dir.File("config.json"), [(byte)'{', (byte)'"', 0xff, (byte)'"', (byte)':', (byte)'1', (byte)'}']);
        Assert.Throws<ModelFormatException>(() => HfModelLoader.ReadConfig(dir.File("config.json")));
        Assert.Throws<ModelFormatException>(() => HfModelLoader.ReadConfig(dir.File("missing.json")));
    }
}
