namespace Loom.Models.Synthetic;

/// <summary>
/// What a <c>deepseek2</c> synthetic model adds to <see cref="SyntheticModelSpec"/>: multi-head latent attention's
/// ranks and head widths, leading dense layers, shared experts and DeepSeek's routing options, written with the keys
/// and tensor names llama.cpp c392e50 reads.
/// </summary>
public sealed record SyntheticMlaSpec
{
    /// <summary>Rank of the query's low-rank pair (<c>attn_q_a</c>, <c>attn_q_b</c>); 0 writes one <c>attn_q</c> (V2-Lite).</summary>
    public int QLoraRank { get; init; }
    public int KvLoraRank { get; init; } = 32;
    public int QkNopeDim { get; init; } = 16;
    public int QkRopeDim { get; init; } = 16;
    public int VHeadDim { get; init; } = 16;
    public int LeadingDenseLayers { get; init; } = 1;
    /// <summary>Shared experts, each <see cref="SyntheticModelSpec.ExpertFfnDim"/> wide, run by every token without a gate.</summary>
    public int SharedExperts { get; init; } = 1;
    /// <summary>GGUF's expert_gating_func: 1 softmax (V2), 2 sigmoid (V3).</summary>
    public int GatingFunc { get; init; } = 1;
    /// <summary>Writes the selection bias <c>exp_probs_b.bias</c> (V3).</summary>
    public bool ProbsBias { get; init; }
    public bool WeightsNorm { get; init; }
    public float WeightsScale { get; init; } = 1f;
    /// <summary>Group-limited routing: expert_group_count and expert_group_used_count (0 writes neither).</summary>
    public int ExpertGroups { get; init; }
    public int ExpertGroupsUsed { get; init; }
    /// <summary>YaRN factor (rope.scaling.factor); 0 writes no rope scaling.</summary>
    public float YarnFactor { get; init; }
    public int YarnOrigContext { get; init; }
    /// <summary>rope.scaling.yarn_log_multiplier, which llama.cpp requires of every deepseek2 file (0.1 × HF's mscale_all_dim).</summary>
    public float YarnLogMultiplier { get; init; }

    public int HeadDim => QkNopeDim + QkRopeDim;
}

public sealed partial record SyntheticModelSpec
{
    /// <summary>DeepSeek-V2's layout (deepseek2) at test size: q LoRA, latent rank 32, one leading dense layer, 8 experts (2 used) and one shared expert.</summary>
    public static SyntheticModelSpec Deepseek2Tiny => new()
    {
        Name = "deepseek2-tiny", Architecture = "deepseek2", NumLayers = 3, NumHeads = 4, NumKvHeads = 4, HeadDim = 32,
        ExpertCount = 8, ExpertUsedCount = 2, ExpertFfnDim = 32, OutputWeightScale = 8, RmsNormEps = 1e-6f,
        Mla = new SyntheticMlaSpec { QLoraRank = 32, KvLoraRank = 32, QkNopeDim = 16, QkRopeDim = 16, VHeadDim = 16, WeightsScale = 2f },
    };

    /// <summary>
    /// DeepSeek-V2-Lite (16B): dim 2048, 27 layers (the first dense, ffn 10944), 16 heads, latent rank 512, nope 128,
    /// rope 64, v 128, no q LoRA, 64 experts of ffn 1408 (6 used) and 2 shared, vocab 102400, YaRN ×40 from 4096.
    /// </summary>
    public static SyntheticModelSpec Deepseek2Lite => new()
    {
        Name = "deepseek2-lite", Architecture = "deepseek2", Dim = 2048, FfnDim = 10944, NumLayers = 27, NumHeads = 16, NumKvHeads = 16,
        HeadDim = 192, ExpertCount = 64, ExpertUsedCount = 6, ExpertFfnDim = 1408, VocabSize = 102400, ContextLength = 163840, RmsNormEps = 1e-6f,
        Mla = new SyntheticMlaSpec
        {
            KvLoraRank = 512, QkNopeDim = 128, QkRopeDim = 64, VHeadDim = 128, SharedExperts = 2,
            YarnFactor = 40, YarnOrigContext = 4096, YarnLogMultiplier = 0.0707f,
        },
    };
}
