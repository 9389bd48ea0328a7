using Loom.Models.Architectures;
using Loom.Models.Architectures.Mla;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// DeepSeek-V2 (<c>DeepseekV2ForCausalLM</c>) as llama.cpp's converter reads it into GGUF's <c>deepseek2</c>: multi-head
/// latent attention (<c>q_lora_rank</c> or none, <c>kv_lora_rank</c>, <c>qk_nope_head_dim</c>, <c>qk_rope_head_dim</c>,
/// <c>v_head_dim</c>), <c>first_k_dense_replace</c> dense layers, <c>n_routed_experts</c> plus <c>n_shared_experts</c>,
/// <c>routed_scaling_factor</c>, and YaRN with <c>yarn_log_multiplier</c> = 0.1 × <c>mscale_all_dim</c>. Its
/// checkpoints keep the RoPE'd rows interleaved (the modeling code reorders them itself), so nothing is permuted.
/// </summary>
internal static class HfDeepseek2
{
    public const string Class = "DeepseekV2ForCausalLM";

    /// <summary><paramref name="scaling"/>: <c>rope_scaling</c> (or transformers v5's <c>rope_parameters</c>), if any.</summary>
    public static ModelConfig Apply(HfConfigJson j, ModelConfig c, HfConfigJson? scaling)
    {
        string path = j.Path;
        int Positive(string key, long max)
        {
            int v = j.RequiredInt(key);
            return v > 0 && v <= max ? v : throw new ModelFormatException(path, $"config '{key}' = {v} is out of range ({ModelLimits.Range(max)})");
        }
        if (c.QkvBias) throw new ModelFormatException(path, "config 'attention_bias' is not supported for DeepSeek-V2");
        int nope = Positive("qk_nope_head_dim", ModelLimits.MaxHeadDim), rope = Positive("qk_rope_head_dim", ModelLimits.MaxHeadDim);
        int experts = Positive("n_routed_experts", ModelLimits.MaxExperts), expertFfn = Positive("moe_intermediate_size", ModelLimits.MaxWidth);
        int used = Positive("num_experts_per_tok", experts);
        int shared = j.Int("n_shared_experts") ?? 0;
        if (shared < 0 || shared > 64) throw new ModelFormatException(path, $"config 'n_shared_experts' = {shared} is out of range (0 to 64)");
        int lead = j.Int("first_k_dense_replace") ?? 0;
        if (lead < 0 || lead >= c.NumLayers) throw new ModelFormatException(path, $"config 'first_k_dense_replace' = {lead} is out of range (0 to {c.NumLayers - 1})");
        if ((j.Int("moe_layer_freq") ?? 1) is var freq && freq != 1) throw new ModelFormatException(path, $"config 'moe_layer_freq' = {freq} is not supported (only 1)");
        string scoring = j.String("scoring_func") ?? "softmax";
        if (scoring != "softmax") throw new ModelFormatException(path, $"config 'scoring_func' = '{scoring}' is not supported (DeepSeek-V2 scores with softmax)");
        // Loom's group-limited routing is DeepSeek-V3's (a group scores its two best experts); V2's scores its best one.
        string topk = j.String("topk_method") ?? "greedy";
        if (topk != "greedy") throw new ModelFormatException(path, $"config 'topk_method' = '{topk}' is not supported (only greedy)");
        bool norm = j.Bool("norm_topk_prob") ?? false;
        double scale = j.Double("routed_scaling_factor") ?? 1.0;
        if (!(scale > 0)) throw new ModelFormatException(path, $"config 'routed_scaling_factor' = {scale} must be positive");
        // DeepSeek-V2's code scales the weights only when it does not renormalize them; llama.cpp always scales.
        if (norm && scale != 1) throw new ModelFormatException(path, $"config 'norm_topk_prob' with 'routed_scaling_factor' = {scale} is not supported (the two conventions disagree)");

        var mla = new MlaConfig
        {
            QLoraRank = j.Int("q_lora_rank") ?? 0,
            KvLoraRank = j.RequiredInt("kv_lora_rank"),
            QkNopeDim = nope,
            QkRopeDim = rope,
            VHeadDim = Positive("v_head_dim", ModelLimits.MaxHeadDim),
        };
        float freqScale = 1f;
        if (scaling is { } s && (s.String("type") ?? s.String("rope_type")) != "default")
        {
            string type = (s.String("type") ?? s.String("rope_type") ?? "").ToLowerInvariant();
            if (type != "yarn") throw new ModelFormatException(path, $"deepseek2 rope_scaling type '{type}' is not supported (only yarn)");
            double factor = s.Double("factor") ?? throw new ModelFormatException(path, "yarn rope_scaling without a factor");
            if (!(factor > 0)) throw new ModelFormatException(path, $"rope_scaling 'factor' = {factor} must be positive");
            int orig = s.Int("original_max_position_embeddings") ?? throw new ModelFormatException(path, "yarn rope_scaling without 'original_max_position_embeddings'");
            double mscale = s.Double("mscale") ?? 1, mscaleAll = s.Double("mscale_all_dim") ?? 0;
            // llama.cpp folds YaRN's magnitude into the scores with mscale_all_dim alone, which equals transformers
            // only when RoPE's own mscale is the same (as in every DeepSeek-V2 release).
            if (mscale != mscaleAll) throw new ModelFormatException(path, $"rope_scaling 'mscale' = {mscale} differs from 'mscale_all_dim' = {mscaleAll}, which is not supported");
            freqScale = (float)(1.0 / factor);
            mla = mla with
            {
                YarnExtFactor = 1f, YarnOrigContext = orig, YarnLogMultiplier = (float)(0.1 * mscaleAll),
                YarnBetaFast = (float)(s.Double("beta_fast") ?? 32), YarnBetaSlow = (float)(s.Double("beta_slow") ?? 1),
            };
        }
        else mla = mla with { YarnOrigContext = c.ContextLength };
        return c with
        {
            HeadDim = nope + rope,
            RopeDim = rope,
            RopeStyle = RopeStyle.Interleaved,
            RopeFreqScale = freqScale,
            Mla = mla,
            ExpertCount = experts,
            ExpertUsedCount = used,
            ExpertFfnDim = expertFfn,
            SharedExpertFfnDim = shared * expertFfn,
            LeadingDenseLayers = lead,
            ExpertWeightsNorm = norm,
            ExpertWeightsScale = (float)scale,
        };
    }

    /// <summary>Layer <paramref name="i"/>: latent attention, then the dense or mixture-of-experts feed-forward.</summary>
    public static LayerWeights Layer(ModelConfig c, HfTensors t, int i)
    {
        string p = $"model.layers.{i}.";
        var m = c.Mla!;
        long H = c.NumHeads, q = H * c.HeadDim;
        bool qLora = m.QLoraRank > 0, moe = c.IsMoeLayer(i);
        return new LayerWeights
        {
            AttnNorm = t.Get(p + "input_layernorm.weight", c.Dim),
            Wq = qLora ? t.Get(p + "self_attn.q_b_proj.weight", m.QLoraRank, q) : t.Get(p + "self_attn.q_proj.weight", c.Dim, q),
            Wk = t.Get(p + "self_attn.kv_a_proj_with_mqa.weight", c.Dim, m.CacheRowWidth),
            Wv = t.Get(p + "self_attn.kv_b_proj.weight", m.KvLoraRank, H * (m.QkNopeDim + m.VHeadDim)),
            Wo = t.Get(p + "self_attn.o_proj.weight", H * m.VHeadDim, c.Dim),
            Mla = new MlaWeights
            {
                QA = qLora ? t.Get(p + "self_attn.q_a_proj.weight", c.Dim, m.QLoraRank) : null,
                QANorm = qLora ? t.Get(p + "self_attn.q_a_layernorm.weight", m.QLoraRank) : null,
                KvANorm = t.Get(p + "self_attn.kv_a_layernorm.weight", m.KvLoraRank),
            },
            FfnNorm = t.Get(p + "post_attention_layernorm.weight", c.Dim),
            WGate = moe ? null : t.Get(p + "mlp.gate_proj.weight", c.Dim, c.FfnDim),
            WUp = moe ? null : t.Get(p + "mlp.up_proj.weight", c.Dim, c.FfnDim),
            WDown = moe ? null : t.Get(p + "mlp.down_proj.weight", c.FfnDim, c.Dim),
            Moe = moe ? HfMoeWeights.Layer(c, t, i) : null,
        };
    }
}
