using Loom.Core.Tensors;

namespace Loom.Models.Synthetic;

/// <summary>
/// Shape of a random-weight Llama-family model written by <see cref="SyntheticModel"/>. The defaults describe a
/// tiny test model; the static presets reproduce the shapes of real checkpoints so speed and memory can be measured
/// without downloading them.
/// </summary>
public sealed partial record SyntheticModelSpec
{
    /// <summary>Written as <c>general.name</c>.</summary>
    public string Name { get; init; } = "synthetic-tiny";
    /// <summary>
    /// llama, qwen2 (adds Q/K/V biases), qwen3 (adds per-head Q/K RMS norms), or a mixture of experts: llama with
    /// <see cref="ExpertCount"/> set (Mixtral), qwen2moe (Q/K/V biases, a gated shared expert), qwen3moe (per-head Q/K
    /// norms) or olmoe (Q/K norms over the whole width, no GQA).
    /// </summary>
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
    /// <summary>Routed experts per layer; 0 (the default) writes a dense feed-forward.</summary>
    public int ExpertCount { get; init; }
    public int ExpertUsedCount { get; init; }
    /// <summary>Hidden width of one routed expert; null means <see cref="FfnDim"/> (Mixtral and OLMoE write no other).</summary>
    public int? ExpertFfnDim { get; init; }
    /// <summary>Hidden width of qwen2moe's shared expert.</summary>
    public int SharedExpertFfnDim { get; init; }
    /// <summary>
    /// Multiplies the standard deviation of <c>output.weight</c>. Random tiny models give nearly tied logits at 1; a
    /// larger spread makes greedy tokens a sharp test of a peer's numbers.
    /// </summary>
    public float OutputWeightScale { get; init; } = 1f;
    /// <summary>phi3 and gemma2/gemma3: positions a sliding layer sees (written as <c>attention.sliding_window</c>; 0: none).</summary>
    public int SlidingWindow { get; init; }
    /// <summary>
    /// phi3 with LongRoPE: writes <c>rope_factors_long</c>/<c>rope_factors_short</c> (fixed, distinct ramps), this as
    /// <c>rope.scaling.original_context_length</c> and the converter's attention factor for
    /// <see cref="ContextLength"/> / this; null writes no rope scaling.
    /// </summary>
    public int? LongRopeOriginalContext { get; init; }
    /// <summary>gemma2: <c>attn_logit_softcapping</c> and <c>final_logit_softcapping</c>; 0 writes no key.</summary>
    public float AttnSoftcap { get; init; }
    public float FinalSoftcap { get; init; }
    /// <summary>deepseek2's latent attention and routing options; required for that architecture, null otherwise.</summary>
    public SyntheticMlaSpec? Mla { get; init; }

    public int EffectiveHeadDim => HeadDim ?? (NumHeads > 0 ? Dim / NumHeads : 0);
    public bool QkvBias => Architecture is "qwen2" or "qwen2moe";
    public bool QkNorm => Architecture is "qwen3" or "qwen3moe" or "olmoe" or "gemma3";
    /// <summary>Gemma 2 and 3: post-norms, GeGLU, tied embeddings, a sliding window.</summary>
    public bool IsGemma => Architecture is "gemma2" or "gemma3";
    /// <summary>OLMoE norms Q and K over their whole width, so its norm weights are that long.</summary>
    public bool QkNormFullWidth => Architecture == "olmoe";
    public bool IsMoe => ExpertCount > 0;
    public int EffectiveExpertFfnDim => ExpertFfnDim ?? FfnDim;
    public int EffectiveSharedExpertFfnDim => Architecture == "qwen2moe" ? SharedExpertFfnDim : Mla is { } m ? m.SharedExperts * EffectiveExpertFfnDim : 0;
    private bool MoeArchitecture => Architecture is "qwen2moe" or "qwen3moe" or "olmoe" or "deepseek2";
    /// <summary>phi3 writes fused <c>attn_qkv</c> and gate-and-up <c>ffn_up</c> tensors.</summary>
    public bool Phi3 => Architecture == "phi3";

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
        Check(Architecture is "llama" or "qwen2" or "qwen3" or "phi3" || MoeArchitecture || IsGemma, $"architecture '{Architecture}' is not llama, qwen2, qwen3, qwen2moe, qwen3moe, olmoe, deepseek2, phi3, gemma2 or gemma3");
        Check(!Phi3 || (!IsMoe && !TiedEmbeddings), "phi3 is dense and has its own output.weight");
        Check(!IsGemma || (TiedEmbeddings && !IsMoe && SlidingWindow > 0), $"{Architecture} needs tied embeddings, a dense feed-forward and a sliding window");
        Check(Phi3 || IsGemma || SlidingWindow == 0, $"{Architecture} has no sliding window");
        Check(Phi3 || LongRopeOriginalContext is null, "LongRoPE is written for phi3 only");
        Check(IsGemma || (AttnSoftcap == 0 && FinalSoftcap == 0), $"{Architecture} has no soft-caps");
        Check(SlidingWindow >= 0 && LongRopeOriginalContext is null or > 0, "sliding window and original context must be positive");
        Check(!MoeArchitecture || IsMoe, $"{Architecture} needs experts");
        Check(IsMoe ? ExpertUsedCount > 0 && ExpertUsedCount <= ExpertCount : ExpertUsedCount == 0, $"{ExpertUsedCount} experts used out of {ExpertCount}");
        Check(!IsMoe || Architecture is not ("qwen2" or "qwen3"), $"{Architecture} has no experts (use {Architecture}moe)");
        Check((Architecture == "deepseek2") == (Mla is not null), "deepseek2, and only it, needs its latent-attention spec");
        Check(Mla is null || (Mla.HeadDim == EffectiveHeadDim && Mla.KvLoraRank > 0 && Mla.QkRopeDim > 0 && Mla.QkRopeDim % 2 == 0 && Mla.VHeadDim > 0
            && Mla.LeadingDenseLayers >= 0 && Mla.LeadingDenseLayers < NumLayers && Mla.QLoraRank >= 0 && Mla.SharedExperts >= 0 && Mla.GatingFunc is 1 or 2),
            "deepseek2 needs head dim = nope + rope dims, positive ranks and fewer leading dense layers than layers");
        Check(ExpertFfnDim is null || Architecture is "qwen2moe" or "qwen3moe" or "deepseek2", $"{Architecture}'s experts are feed-forward length wide");
        Check(EffectiveExpertFfnDim > 0 && (Architecture != "qwen2moe" || SharedExpertFfnDim > 0), "expert widths must be positive");
        Check(Architecture is not ("olmoe" or "qwen2moe") || (NumHeads * EffectiveHeadDim == Dim && (Architecture != "olmoe" || NumKvHeads == NumHeads)),
            $"{Architecture} needs heads × head dim = dim{(Architecture == "olmoe" ? " and as many KV heads as heads" : "")}");
        Check(OutputWeightScale > 0 && float.IsFinite(OutputWeightScale), $"output weight scale {OutputWeightScale}");
        Check(Dim > 0 && FfnDim > 0 && NumLayers > 0 && ContextLength > 0, "dimensions must be positive");
        Check(NumHeads > 0 && NumKvHeads > 0 && NumHeads % NumKvHeads == 0, $"{NumHeads} heads cannot share {NumKvHeads} KV heads");
        Check(EffectiveHeadDim > 0 && EffectiveHeadDim % 2 == 0, $"head dim {EffectiveHeadDim} must be positive and even");
        Check(HeadDim is not null || Dim % NumHeads == 0, $"dim {Dim} is not divisible by {NumHeads} heads");
        Check(Architecture != "qwen2" || EffectiveHeadDim * NumHeads == Dim, "qwen2 needs heads × head dim = dim");
        Check(VocabSize >= MinVocabSize, $"vocab size {VocabSize} is below {MinVocabSize}");
        Check(RmsNormEps > 0 && RopeTheta > 0, "eps and rope theta must be positive");
        Check(SyntheticModel.FileType(matrixType) >= 0, $"{matrixType} is not a weight type a model file can use");
        int bs = TypeTraits.BlockSize(matrixType);
        foreach (var (what, n) in new[] { ("dim", Dim), ("ffn dim", IsMoe ? EffectiveExpertFfnDim : FfnDim), ("heads × head dim", NumHeads * EffectiveHeadDim), ("shared expert ffn dim", EffectiveSharedExpertFfnDim),
            ("dense ffn dim", Mla is null ? 0 : FfnDim), ("kv lora rank", Mla?.KvLoraRank ?? 0), ("q lora rank", Mla?.QLoraRank ?? 0), ("heads × v dim", NumHeads * (Mla?.VHeadDim ?? 0)) })
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

    /// <summary>Mixtral's layout at the tiny default's size: llama with 4 experts of ffn 128, 2 used, weights renormalized.</summary>
    public static SyntheticModelSpec MixtralTiny => new() { Name = "mixtral-tiny", ExpertCount = 4, ExpertUsedCount = 2, OutputWeightScale = 8 };

    /// <summary>Qwen2-MoE's layout, tiny: QKV bias, 8 experts of ffn 64 (2 used) and a sigmoid-gated shared expert of ffn 128.</summary>
    public static SyntheticModelSpec Qwen2MoeTiny => new()
    {
        Name = "qwen2moe-tiny", Architecture = "qwen2moe", ExpertCount = 8, ExpertUsedCount = 2, ExpertFfnDim = 64,
        SharedExpertFfnDim = 128, RopeTheta = 1000000f, RmsNormEps = 1e-6f, OutputWeightScale = 8,
    };

    /// <summary>Qwen3-MoE's layout, tiny: per-head Q/K norms, head dim 32, 8 experts of ffn 64 (2 used), weights renormalized.</summary>
    public static SyntheticModelSpec Qwen3MoeTiny => new()
    {
        Name = "qwen3moe-tiny", Architecture = "qwen3moe", HeadDim = 32, ExpertCount = 8, ExpertUsedCount = 2, ExpertFfnDim = 64,
        RopeTheta = 1000000f, RmsNormEps = 1e-6f, OutputWeightScale = 8,
    };

    /// <summary>OLMoE's layout, tiny: Q/K norms over the whole width, 4 heads and 4 KV heads, 8 experts of ffn 64, 2 used.</summary>
    public static SyntheticModelSpec OlmoeTiny => new()
    {
        Name = "olmoe-tiny", Architecture = "olmoe", FfnDim = 64, NumKvHeads = 4, ExpertCount = 8, ExpertUsedCount = 2, OutputWeightScale = 8,
    };

    /// <summary>
    /// Gemma 2's layout, tiny: 26 layers (llama.cpp sizes Gemma 2 by layer count and knows no other small one), every
    /// other layer sliding over 16 positions, so that test prompts pass the window; soft-caps of 2.5 (attention) and 5
    /// (logits), far below Gemma 2's 50 and 30, so that they bend these small scores. The classifier being the
    /// embedding, which the residual stream carries, a wider spread would only make it repeat its last token.
    /// </summary>
    public static SyntheticModelSpec Gemma2Tiny => new()
    {
        Name = "gemma2-tiny", Architecture = "gemma2", NumLayers = 26, HeadDim = 32, TiedEmbeddings = true, SlidingWindow = 16,
        AttnSoftcap = 2.5f, FinalSoftcap = 5, RmsNormEps = 1e-6f,
    };

    /// <summary>
    /// Gemma 3's text layout, tiny: 8 layers (5 sliding : 1 global, then 2 more sliding), Q/K norms, window 16, global
    /// RoPE base 1e6 (local 10000), no soft-caps.
    /// </summary>
    public static SyntheticModelSpec Gemma3Tiny => new()
    {
        Name = "gemma3-tiny", Architecture = "gemma3", NumLayers = 8, HeadDim = 32, TiedEmbeddings = true, SlidingWindow = 16,
        RopeTheta = 1000000f, RmsNormEps = 1e-6f,
    };

    /// <summary>OLMoE-1B-7B: dim 2048, 16 layers, 16 heads (no GQA), 64 experts of ffn 1024 with 8 used, vocab 50304, context 4096.</summary>
    public static SyntheticModelSpec Olmoe1B7B => new()
    {
        Name = "olmoe-1b-7b", Architecture = "olmoe", Dim = 2048, FfnDim = 1024, NumLayers = 16, NumHeads = 16, NumKvHeads = 16,
        ExpertCount = 64, ExpertUsedCount = 8, VocabSize = 50304, ContextLength = 4096,
    };

    /// <summary>
    /// Phi-3's layout, tiny: fused QKV and gate/up, NeoX RoPE, LongRoPE with an original context of 128 in a context of
    /// 256 (so llama.cpp and Loom pick the long factors at 256 and the short ones at a context of 128), a sliding
    /// window as long as the context.
    /// </summary>
    public static SyntheticModelSpec Phi3Tiny => new()
    {
        Name = "phi3-tiny", Architecture = "phi3", SlidingWindow = 256, LongRopeOriginalContext = 128, OutputWeightScale = 8,
    };

    /// <summary>Phi-3-mini-128k (3.8B): dim 3072, ffn 8192, 32 layers, 32 heads (no GQA), vocab 32064, LongRoPE from 4096 to 131072.</summary>
    public static SyntheticModelSpec Phi3Mini => new()
    {
        Name = "phi3-mini", Architecture = "phi3", Dim = 3072, FfnDim = 8192, NumLayers = 32, NumHeads = 32, NumKvHeads = 32,
        VocabSize = 32064, ContextLength = 131072, SlidingWindow = 262144, LongRopeOriginalContext = 4096,
    };

    /// <summary>llama2.c stories110M: dim 768, ffn 2048, 12 layers, 12 heads (no GQA), vocab 32000, context 1024.</summary>
    public static SyntheticModelSpec Stories110M => new()
    {
        Name = "stories110m", Dim = 768, FfnDim = 2048, NumLayers = 12, NumHeads = 12, NumKvHeads = 12,
        VocabSize = 32000, ContextLength = 1024,
    };
}
