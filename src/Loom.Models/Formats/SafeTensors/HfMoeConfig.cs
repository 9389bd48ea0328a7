using Loom.Models.Architectures;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// The mixture-of-experts keys of Mixtral, Qwen2-MoE, Qwen3-MoE and OLMoE configs, read as transformers reads them
/// (<c>num_local_experts</c> or <c>num_experts</c>, <c>num_experts_per_tok</c>, <c>moe_intermediate_size</c>,
/// <c>shared_expert_intermediate_size</c>, <c>norm_topk_prob</c>) and laid over the dense configuration.
/// </summary>
internal static class HfMoeConfig
{
    public const string MixtralClass = "MixtralForCausalLM";

    public static bool Is(string archClass) => archClass is MixtralClass or "Qwen2MoeForCausalLM" or "Qwen3MoeForCausalLM" or "OlmoeForCausalLM";

    public static ModelConfig Apply(HfConfigJson j, string archClass, ModelConfig c)
    {
        string path = j.Path;
        int Positive(string key, long max)
        {
            int v = j.RequiredInt(key);
            if (v <= 0 || v > max) throw new ModelFormatException(path, $"config '{key}' = {v} is out of range ({ModelLimits.Range(max)})");
            return v;
        }
        bool mixtral = archClass == MixtralClass, qwen = c.Architecture is "qwen2moe" or "qwen3moe";
        int experts = Positive(mixtral ? "num_local_experts" : "num_experts", ModelLimits.MaxExperts);
        int used = Positive("num_experts_per_tok", ModelLimits.MaxExperts);
        if (used > experts) throw new ModelFormatException(path, $"config 'num_experts_per_tok' = {used} exceeds the {experts} experts");
        if (qwen)
        {
            // Qwen-MoE can interleave dense layers; every layer here is a mixture, so anything else is refused.
            int step = j.Int("decoder_sparse_step") ?? 1;
            if (step != 1) throw new ModelFormatException(path, $"config 'decoder_sparse_step' = {step} is not supported (only 1: every layer a mixture of experts)");
            if (j.Doubles("mlp_only_layers") is { Length: > 0 }) throw new ModelFormatException(path, "config 'mlp_only_layers' is not supported (every layer must be a mixture of experts)");
            if (j.Bool("use_sliding_window") == true) throw new ModelFormatException(path, "config 'use_sliding_window' is not supported");
        }
        if (!mixtral && j.Double("clip_qkv") is { } clip) throw new ModelFormatException(path, $"config 'clip_qkv' = {clip} is not supported");

        // Mixtral always renormalizes its top-k weights; the others say so in norm_topk_prob (transformers' default: false).
        bool norm = mixtral || (j.Bool("norm_topk_prob") ?? false);
        int window = 0;
        if (mixtral && j.Int("sliding_window") is { } w)
        {
            if (w <= 0) throw new ModelFormatException(path, $"config 'sliding_window' = {w} must be positive");
            // A window as long as the context masks nothing; only a shorter one changes the output.
            if (w < c.ContextLength) window = w;
        }
        return c with
        {
            ExpertCount = experts,
            ExpertUsedCount = used,
            ExpertFfnDim = qwen ? Positive("moe_intermediate_size", ModelLimits.MaxWidth) : c.FfnDim,
            SharedExpertFfnDim = c.Architecture == "qwen2moe" ? Positive("shared_expert_intermediate_size", ModelLimits.MaxWidth) : 0,
            ExpertWeightsNorm = norm,
            SlidingWindow = window,
            SlidingLayers = window > 0 ? Enumerable.Repeat(true, c.NumLayers).ToArray() : null,
        };
    }
}
