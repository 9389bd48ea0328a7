using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Formats.Gguf;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>Models that are not runnable are refused with one clear, typed error.</summary>
public class ModelLoaderRefusalTests
{
    /// <summary>Copies a valid synthetic model, changing one metadata value or dropping one tensor.</summary>
    private static void Rewrite(string source, string target, string? setArch = null, string? dropTensor = null)
    {
        using var f = GgufFile.Open(source);
        var w = new GgufWriter();
        foreach (var (k, v) in f.Metadata)
            w.Add(k, k == "general.architecture" && setArch is not null ? setArch : v);
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
}
