using Loom.Core.Tensors;

namespace Loom.Models.Synthetic;

/// <summary>
/// Shape of a random-weight Llama-family model written by <see cref="SyntheticModel"/>. The defaults describe a
/// tiny test model; the static presets reproduce the shapes of real checkpoints so speed and memory can be measured
/// without downloading them.
/// </summary>
public sealed record SyntheticModelSpec
{
    /// <summary>Written as <c>general.name</c>.</summary>
    public string Name { get; init; } = "synthetic-tiny";
    /// <summary>llama, qwen2 (adds Q/K/V biases) or qwen3 (adds per-head Q/K RMS norms).</summary>
    public string Architecture { get; init; } = "llama";
    public int Dim { get; init; } = 64;
    public int FfnDim { get; init; } = 128;
    public int NumLayers { get; init; } = 2;
    public int NumHeads { get; init; } = 4;
    public int NumKvHeads { get; init; } = 2;
    /// <summary>Per-head width; null means <see cref="Dim"/> / <see cref="NumHeads"/>.</summary>
    public int? HeadDim { get; init; }
    public int VocabSize { get; init; } = 512;
    public int ContextLength { get; init; } = 256;
    public float RmsNormEps { get; init; } = 1e-5f;
    public float RopeTheta { get; init; } = 10000f;
    /// <summary>When true there is no <c>output.weight</c>; the output projection reuses <c>token_embd.weight</c>.</summary>
    public bool TiedEmbeddings { get; init; }
    /// <summary>Written as <c>tokenizer.chat_template</c> when set; null writes none (the default).</summary>
    public string? ChatTemplate { get; init; }

    public int EffectiveHeadDim => HeadDim ?? (NumHeads > 0 ? Dim / NumHeads : 0);
    public bool QkvBias => Architecture == "qwen2";
    public bool QkNorm => Architecture == "qwen3";

    /// <summary>Fewest tokens the embedded vocabulary needs: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, 256 byte tokens and "▁".</summary>
    public const int MinVocabSize = 3 + 256 + 1;

    /// <summary>
    /// Throws <see cref="ArgumentException"/> unless the spec can be written with matrices of <paramref name="matrixType"/>.
    /// Every matrix row (<see cref="Dim"/>, <see cref="FfnDim"/> and heads × head dim) must be a multiple of the type's
    /// block size: 32 for Q4_0..Q8_0, 256 for K-quants. So the tiny default (dim 64, ffn 128) works with F32, F16, BF16
    /// and the 32-element quants, but a K-quant needs e.g. <c>Dim = 256, FfnDim = 512</c>.
    /// </summary>
    public void Validate(GgmlType matrixType)
    {
        void Check(bool ok, string problem) { if (!ok) throw new ArgumentException($"synthetic model '{Name}': {problem}"); }
        Check(Architecture is "llama" or "qwen2" or "qwen3", $"architecture '{Architecture}' is not llama, qwen2 or qwen3");
        Check(Dim > 0 && FfnDim > 0 && NumLayers > 0 && ContextLength > 0, "dimensions must be positive");
        Check(NumHeads > 0 && NumKvHeads > 0 && NumHeads % NumKvHeads == 0, $"{NumHeads} heads cannot share {NumKvHeads} KV heads");
        Check(EffectiveHeadDim > 0 && EffectiveHeadDim % 2 == 0, $"head dim {EffectiveHeadDim} must be positive and even");
        Check(HeadDim is not null || Dim % NumHeads == 0, $"dim {Dim} is not divisible by {NumHeads} heads");
        Check(Architecture != "qwen2" || EffectiveHeadDim * NumHeads == Dim, "qwen2 needs heads × head dim = dim");
        Check(VocabSize >= MinVocabSize, $"vocab size {VocabSize} is below {MinVocabSize}");
        Check(RmsNormEps > 0 && RopeTheta > 0, "eps and rope theta must be positive");
        Check(SyntheticModel.FileType(matrixType) >= 0, $"{matrixType} is not a weight type a model file can use");
        int bs = TypeTraits.BlockSize(matrixType);
        foreach (var (what, n) in new[] { ("dim", Dim), ("ffn dim", FfnDim), ("heads × head dim", NumHeads * EffectiveHeadDim) })
            Check(n % bs == 0, $"{what} {n} is not a multiple of the {matrixType} block size {bs}");
    }

    /// <summary>The tiny test default: dim 64, ffn 128, 2 layers, 4 heads, 2 KV heads, vocab 512, context 256.</summary>
    public static SyntheticModelSpec Tiny => new();

    /// <summary>TinyLlama 1.1B: dim 2048, ffn 5632, 22 layers, 32 heads, 4 KV heads, vocab 32000, context 2048.</summary>
    public static SyntheticModelSpec TinyLlama1_1B => new()
    {
        Name = "tinyllama-1.1b", Dim = 2048, FfnDim = 5632, NumLayers = 22, NumHeads = 32, NumKvHeads = 4,
        VocabSize = 32000, ContextLength = 2048, RopeTheta = 10000f,
    };

    /// <summary>Llama 3.2 1B shapes (without its rope frequency factors): tied embeddings, vocab 128256, theta 500000.</summary>
    public static SyntheticModelSpec Llama3_2_1B => new()
    {
        Name = "llama-3.2-1b", Dim = 2048, FfnDim = 8192, NumLayers = 16, NumHeads = 32, NumKvHeads = 8,
        VocabSize = 128256, ContextLength = 131072, RopeTheta = 500000f, TiedEmbeddings = true,
    };

    /// <summary>Qwen2.5 0.5B: qwen2 (QKV bias), dim 896, 14 heads, 2 KV heads, vocab 151936, tied, theta 1e6, eps 1e-6.</summary>
    public static SyntheticModelSpec Qwen2_5_0_5B => new()
    {
        Name = "qwen2.5-0.5b", Architecture = "qwen2", Dim = 896, FfnDim = 4864, NumLayers = 24, NumHeads = 14, NumKvHeads = 2,
        VocabSize = 151936, ContextLength = 32768, RopeTheta = 1000000f, RmsNormEps = 1e-6f, TiedEmbeddings = true,
    };

    /// <summary>llama2.c stories110M: dim 768, ffn 2048, 12 layers, 12 heads (no GQA), vocab 32000, context 1024.</summary>
    public static SyntheticModelSpec Stories110M => new()
    {
        Name = "stories110m", Dim = 768, FfnDim = 2048, NumLayers = 12, NumHeads = 12, NumKvHeads = 12,
        VocabSize = 32000, ContextLength = 1024,
    };
}
