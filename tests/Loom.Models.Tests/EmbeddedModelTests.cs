using Loom.Models.Architectures;
using Loom.Models.Quantize;
using Loom.Models.Synthetic;
using Loom.Tests;

namespace Loom.Models.Tests;

/// <summary>
/// A small model embedded in a larger shape (<see cref="EmbeddedModel"/>) computes the small model's logits: what
/// makes the large file's speculative acceptance the small model's.
/// </summary>
public class EmbeddedModelTests
{
    private static readonly SyntheticModelSpec Small = SyntheticModelSpec.Tiny with { OutputWeightScale = 4f }; // dim 64, 4 heads of 16, 2 KV heads

    public static TheoryData<string> Shapes => ["wide", "more-heads", "untied"];

    private static SyntheticModelSpec Shape(string name) => name switch
    {
        // Head dim 64 = 4 × 16: Q's scale √4 is exact; GQA 2 → 2.
        "wide" => new SyntheticModelSpec { Name = "wide", Dim = 256, FfnDim = 384, NumLayers = 3, NumHeads = 4, NumKvHeads = 2, VocabSize = 512 },
        // Head dim 32 = 2 × 16 (scale √2), 4 KV heads of 4 queries each, heads × head dim ≠ dim.
        "more-heads" => new SyntheticModelSpec { Name = "more-heads", Dim = 128, FfnDim = 256, NumLayers = 4, NumHeads = 16, NumKvHeads = 4, HeadDim = 32, VocabSize = 512 },
        _ => new SyntheticModelSpec { Name = "untied", Dim = 128, FfnDim = 128, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, HeadDim = 32, VocabSize = 512 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LargeFileComputesTheSmallModelsLogits(string shape)
    {
        using var dir = new TempDir();
        string small = dir.File("small.gguf"), large = dir.File("large.gguf");
        SyntheticModel.Write(small, shape == "untied" ? Small : Small with { TiedEmbeddings = true }, LlamaFileType.F32, seed: 3);
        var spec = Shape(shape);
        EmbeddedModel.Write(large, small, spec, LlamaFileType.F32);

        using var a = ModelLoader.Load(small);
        using var b = ModelLoader.Load(large);
        Assert.Equal(spec.Dim, b.Config.Dim);
        Assert.Equal(spec.NumLayers, b.Config.NumLayers);
        Assert.Equal(spec.EffectiveHeadDim, b.Config.HeadDim);
        Assert.Equal(a.Config.VocabSize, b.Config.VocabSize);
        Assert.Equal(a.Config.ContextLength, b.Config.ContextLength);
        Assert.Equal(a.Tokenizer.Encode("hello world"), b.Tokenizer.Encode("hello world"));

        var x = Quantize.ModelQuantizerTests.Logits(a, [1, 20, 31, 42, 53, 64, 75]);
        var y = Quantize.ModelQuantizerTests.Logits(b, [1, 20, 31, 42, 53, 64, 75]);
        double diff = 0, norm = 0;
        for (int i = 0; i < x.Length; i++) { diff += (x[i] - y[i]) * (double)(x[i] - y[i]); norm += x[i] * (double)x[i]; }
        // A head-dim ratio of 4 scales Q by 2, exactly; √2 (ratio 2) rounds differently where attention meets Q as f16.
        double limit = spec.EffectiveHeadDim == 4 * Small.EffectiveHeadDim ? 1e-5 : 2e-3;
        Assert.True(Math.Sqrt(diff / norm) < limit, $"relative logit difference {Math.Sqrt(diff / norm):G3}");
    }

    [Fact]
    public void QuantizedLargeFileGetsTheRequestedTypes()
    {
        using var dir = new TempDir();
        string small = dir.File("small.gguf"), large = dir.File("large.gguf");
        SyntheticModel.Write(small, Small, LlamaFileType.F32, seed: 3);
        EmbeddedModel.Write(large, small, Shape("wide"), LlamaFileType.Q4_0, pure: true);
        using var file = Loom.Models.Formats.Gguf.GgufFile.Open(large);
        Assert.Equal(Loom.Core.Tensors.GgmlType.Q4_0, file.FindTensor("blk.2.ffn_down.weight")!.Type);
        Assert.Equal(Loom.Core.Tensors.GgmlType.F32, file.FindTensor("blk.0.attn_norm.weight")!.Type);
        Assert.Equal(2u, Convert.ToUInt32(file.Metadata["general.file_type"]));
    }

    [Fact]
    public void TrainedModelKeepsItsGreedyTokens()
    {
        using var dir = new TempDir();
        string large = dir.File("large.gguf");
        // stories260K: dim 64, 8 heads of 8, 4 KV heads, 5 layers.
        var spec = new SyntheticModelSpec { Name = "stories-wide", Dim = 256, FfnDim = 512, NumLayers = 7, NumHeads = 8, NumKvHeads = 4, VocabSize = 512 };
        EmbeddedModel.Write(large, RepoModels.Stories260K, spec, LlamaFileType.F32);
        using var a = ModelLoader.Load(RepoModels.Stories260K);
        using var b = ModelLoader.Load(large);
        Assert.Equal(Greedy(a, 40), Greedy(b, 40));
    }

    [Theory]
    [InlineData("narrow", "width 32 < 64")]
    [InlineData("head-dim", "head dim 24 is not a multiple of 16")]
    [InlineData("kv-heads", "KV heads 1 < 2")]
    [InlineData("gqa", "query heads per KV head 1 < 2")]
    [InlineData("layers", "layers 1 < 2")]
    [InlineData("qwen2", "only a llama model can be embedded")]
    public void RefusesAShapeThatCannotHoldTheModel(string what, string message)
    {
        using var dir = new TempDir();
        string small = dir.File("small.gguf");
        SyntheticModel.Write(small, what == "qwen2" ? Small with { Architecture = "qwen2" } : Small, LlamaFileType.F32, seed: 3);
        var shape = Shape("wide");
        shape = what switch
        {
            "narrow" => shape with { Dim = 32 },
            "head-dim" => shape with { HeadDim = 24 },
            "kv-heads" => shape with { NumKvHeads = 1, NumHeads = 4 },
            "gqa" => shape with { NumHeads = 4, NumKvHeads = 4 },
            "layers" => shape with { NumLayers = 1 },
            _ => shape,
        };
        var e = Assert.Throws<ArgumentException>(() => EmbeddedModel.Write(dir.File("large.gguf"), small, shape, LlamaFileType.F32));
        Assert.Contains(message, e.Message);
    }

    private static int[] Greedy(LoadedModel m, int n)
    {
        var c = m.Config;
        using var cache = new KvCache(c.NumLayers, m.Transformer.KvDim, 8, 16);
        int[] table = [0, 1, 2, 3, 4, 5, 6, 7];
        var batch = new ForwardBatch();
        var logits = new float[c.VocabSize];
        var prompt = m.Tokenizer.Encode("Once upon a time").ToArray();
        var tokens = new List<int>();
        batch.Add(prompt, 0, table);
        m.Transformer.Forward(batch, cache, logits);
        for (int i = 0; i < n; i++)
        {
            int next = Array.IndexOf(logits, logits.Max());
            tokens.Add(next);
            batch.Clear();
            batch.Add([next], prompt.Length + i, table);
            m.Transformer.Forward(batch, cache, logits);
        }
        return tokens.ToArray();
    }
}
