using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Formats.Gguf;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>Models that are not runnable are refused with one clear, typed error.</summary>
public class ModelLoaderRefusalTests
{
    /// <summary>Copies a valid synthetic model, changing one metadata value or dropping one tensor.</summary>
    private static void Rewrite(string source, string target, string? setArch = null, string? dropTensor = null, (string Key, object Value)? set = null)
    {
        using var f = GgufFile.Open(source);
        var w = new GgufWriter();
        foreach (var (k, v) in f.Metadata)
            w.Add(k, k == "general.architecture" && setArch is not null ? setArch : set is { } s && s.Key == k ? s.Value : v);
        foreach (var t in f.Tensors)
            if (t.Name != dropTensor) w.AddTensor(t.Name, t.Type, t.Shape, f.GetTensor(t.Name).Bytes.ToArray());
        w.Write(target);
    }

    [Fact]
    public void ValidSyntheticModelLoadsAndRuns()
    {
        using var dir = new TempDir();
        SyntheticModel.Write(dir.File("ok.gguf"), SyntheticModelSpec.Tiny, GgmlType.F16);
        using var m = ModelLoader.Load(dir.File("ok.gguf"));
        Assert.Equal("llama", m.Config.Architecture);
        Assert.NotEmpty(m.Tokenizer.Encode("Once upon a time"));
    }

    [Fact]
    public void WrongArchitectureIsRefused()
    {
        using var dir = new TempDir();
        SyntheticModel.Write(dir.File("ok.gguf"), SyntheticModelSpec.Tiny, GgmlType.F16);
        Rewrite(dir.File("ok.gguf"), dir.File("bad.gguf"), setArch: "gpt2");
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir.File("bad.gguf")));
        Assert.Contains("unsupported architecture 'gpt2'", e.Message);
        Assert.Contains("bad.gguf", e.Message);
    }

    [Fact]
    public void MissingTensorIsRefused()
    {
        using var dir = new TempDir();
        SyntheticModel.Write(dir.File("ok.gguf"), SyntheticModelSpec.Tiny, GgmlType.F16);
        Rewrite(dir.File("ok.gguf"), dir.File("bad.gguf"), dropTensor: "blk.1.ffn_up.weight");
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir.File("bad.gguf")));
        Assert.Contains("missing tensor 'blk.1.ffn_up.weight'", e.Message);
    }

    /// <summary>A mixture-of-experts header that disagrees with its expert tensors is refused, naming what is wrong.</summary>
    [Theory]
    [InlineData("olmoe.expert_used_count", 9u, "metadata 'olmoe.expert_used_count' = 9 is out of range (1..8)")]
    [InlineData("olmoe.expert_count", 16u, "metadata 'olmoe.expert_count' = 16 (expected [64, 16])")]
    [InlineData(null, null, "missing tensor 'blk.1.ffn_down_exps.weight'")]
    public void InconsistentMixtureOfExpertsIsRefused(string? key, object? value, string message)
    {
        using var dir = new TempDir();
        SyntheticModel.Write(dir.File("ok.gguf"), SyntheticModelSpec.OlmoeTiny, GgmlType.F16);
        Rewrite(dir.File("ok.gguf"), dir.File("bad.gguf"), dropTensor: key is null ? "blk.1.ffn_down_exps.weight" : null, set: key is null ? null : (key, value!));
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir.File("bad.gguf")));
        Assert.Contains(message, e.Message);
    }
}
