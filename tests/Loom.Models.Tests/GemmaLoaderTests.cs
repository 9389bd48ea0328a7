using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.ChatTemplates;
using Loom.Models.Formats.Gguf;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>Gemma 2 and 3 headers read as llama.cpp reads them, and malformed ones refused naming the key or tensor.</summary>
public class GemmaLoaderTests
{
    /// <summary>Copies a valid synthetic model, setting or dropping one metadata key, or dropping one tensor.</summary>
    private static void Rewrite(string source, string target, string? key = null, object? value = null, string? dropTensor = null)
    {
        using var f = GgufFile.Open(source);
        var w = new GgufWriter();
        foreach (var (k, v) in f.Metadata)
            if (k != key) w.Add(k, v);
            else if (value is not null) w.Add(k, value);
        foreach (var t in f.Tensors)
            if (t.Name != dropTensor) w.AddTensor(t.Name, t.Type, t.Shape, f.GetTensor(t.Name).Bytes.ToArray());
        w.Write(target);
    }

    private static string Write(TempDir dir, SyntheticModelSpec spec)
    {
        SyntheticModel.Write(dir.File("ok.gguf"), spec, GgmlType.F16);
        return dir.File("ok.gguf");
    }

    [Fact]
    public void Gemma2ConfigFollowsLlamaCpp()
    {
        using var dir = new TempDir();
        using var m = ModelLoader.Load(Write(dir, SyntheticModelSpec.Gemma2Tiny));
        var c = m.Config;
        Assert.Equal(16, c.SlidingWindow);
        // Every other layer slides, from layer 0 (llama.cpp: il % 2 == 0).
        Assert.Equal(Enumerable.Range(0, 26).Select(l => l % 2 == 0), c.SlidingLayers!);
        Assert.Equal(MathF.Sqrt(64), c.EmbeddingScale);
        Assert.Equal(1f / MathF.Sqrt(32), c.QueryScale); // 26 layers: the 2B rule, 1/sqrt(head dim)
        Assert.Equal(2.5f, c.AttnSoftcap);
        Assert.Equal(5f, c.FinalSoftcap);
        Assert.Equal(0f, c.SlidingRopeTheta);
        Assert.Equal((RopeStyle.NeoX, FfnActivation.GeluTanh, true, true, false), (c.RopeStyle, c.Activation, c.PostNorms, c.TiedEmbeddings, c.QkNorm));
        Assert.Same(m.Transformer.Weights.TokenEmbedding, m.Transformer.Weights.Output);
    }

    [Fact]
    public void Gemma3ConfigFollowsLlamaCpp()
    {
        using var dir = new TempDir();
        using var m = ModelLoader.Load(Write(dir, SyntheticModelSpec.Gemma3Tiny));
        var c = m.Config;
        // Five local layers to one global: layer 5 is global.
        Assert.Equal([true, true, true, true, true, false, true, true], c.SlidingLayers!);
        Assert.Equal((10000f, 1000000f), (c.SlidingRopeTheta, c.RopeTheta));
        Assert.Equal((0f, 0f), (c.AttnSoftcap, c.FinalSoftcap));
        Assert.True(c.QkNorm);
        Assert.False(c.QkNormFullWidth);
    }

    [Fact]
    public void Gemma2WithoutAWindowKeyTakesLlamaCppsDefault()
    {
        using var dir = new TempDir();
        Rewrite(Write(dir, SyntheticModelSpec.Gemma2Tiny), dir.File("d.gguf"), key: "gemma2.attention.sliding_window");
        using var m = ModelLoader.Load(dir.File("d.gguf"));
        Assert.Equal(4096, m.Config.SlidingWindow);
    }

    public static TheoryData<string, string?, object?, string?, string> Malformed => new()
    {
        { "gemma2-tiny", "gemma2.attention.sliding_window", 0u, null, "metadata 'gemma2.attention.sliding_window' = 0 is out of range" },
        { "gemma2-tiny", "gemma2.attention.sliding_window", "wide", null, "gemma2.attention.sliding_window" },
        { "gemma2-tiny", "gemma2.attn_logit_softcapping", -1f, null, "metadata 'gemma2.attn_logit_softcapping' = -1 must be a finite non-negative number" },
        { "gemma2-tiny", "gemma2.final_logit_softcapping", float.NaN, null, "metadata 'gemma2.final_logit_softcapping' = NaN" },
        { "gemma2-tiny", null, null, "blk.3.post_ffw_norm.weight", "missing tensor 'blk.3.post_ffw_norm.weight'" },
        { "gemma2-tiny", null, null, "blk.0.post_attention_norm.weight", "missing tensor 'blk.0.post_attention_norm.weight'" },
        { "gemma3-tiny", "gemma3.attention.sliding_window", null, null, "missing metadata 'gemma3.attention.sliding_window'" },
        { "gemma3-tiny", null, null, "blk.2.attn_k_norm.weight", "gemma3 needs Q/K norm tensors" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedGemmaIsRefused(string shape, string? key, object? value, string? dropTensor, string message)
    {
        using var dir = new TempDir();
        var spec = shape == "gemma2-tiny" ? SyntheticModelSpec.Gemma2Tiny : SyntheticModelSpec.Gemma3Tiny;
        Rewrite(Write(dir, spec), dir.File("bad.gguf"), key, value, dropTensor);
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir.File("bad.gguf")));
        Assert.Contains(message, e.Message);
        Assert.Contains("bad.gguf", e.Message);
    }

    /// <summary>The real Gemma 2 and 3 templates (Fixtures/templates), carried in a gemma model file, render its turns.</summary>
    [Theory]
    [InlineData("gemma-2", "gemma2-tiny")]
    [InlineData("gemma-3", "gemma3-tiny")]
    public void GemmaChatTemplateInTheModelFileRenders(string template, string shape)
    {
        string text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "templates", template + ".jinja"));
        using var dir = new TempDir();
        var spec = (shape == "gemma2-tiny" ? SyntheticModelSpec.Gemma2Tiny : SyntheticModelSpec.Gemma3Tiny) with { ChatTemplate = text };
        SyntheticModel.Write(dir.File("t.gguf"), spec, GgmlType.F16);
        using var m = ModelLoader.Load(dir.File("t.gguf"));
        var rendered = new ChatTemplate(m.Tokenizer.ChatTemplate!).Render(
            [new ChatMessage("user", "Hello"), new ChatMessage("assistant", " Hi there "), new ChatMessage("user", "Who are you")], addGenerationPrompt: true, bosToken: "<bos>", eosToken: "<eos>");
        // The assistant turn is the model's, its content trimmed.
        Assert.Equal("<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\n", rendered);
    }
}
