using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Architectures.Mla;
using Loom.Models.Architectures.Moe;

namespace Loom.Models.Formats.Gguf;

/// <summary>
/// What GGUF's <c>deepseek2</c> adds to a Llama-family file, as llama.cpp c392e50 reads it: multi-head latent
/// attention (<c>attention.kv_lora_rank</c>, optional <c>attention.q_lora_rank</c>, key length = nope + rope dims,
/// value length), YaRN with <c>rope.scaling.yarn_log_multiplier</c>, leading dense layers, shared experts without a
/// gate, softmax or sigmoid gating with the optional selection bias <c>exp_probs_b</c>, and group-limited routing
/// (<c>expert_group_count</c>, which c392e50 does not read). Keys llama.cpp requires are required here, by name.
/// </summary>
internal static class GgufDeepseek2
{
    public const string Arch = "deepseek2";

    /// <summary>The deepseek2 hyperparameters on top of <paramref name="c"/>, the general ones the loader read.</summary>
    public static ModelConfig Configure(GgufFile f, ModelConfig c)
    {
        string path = f.Path;
        long Required(string key, long min, long max)
        {
            long v = f.GetInteger($"{Arch}.{key}") ?? throw new ModelFormatException(path, $"missing metadata '{Arch}.{key}'");
            return InRange(key, v, min, max);
        }
        long Optional(string key, long fallback, long min, long max) =>
            f.GetInteger($"{Arch}.{key}") is { } v ? InRange(key, v, min, max) : fallback;
        long InRange(string key, long v, long min, long max) =>
            v >= min && v <= max ? v : throw new ModelFormatException(path, $"metadata '{Arch}.{key}' = {v} is out of range ({min} to {max})");
        float Float(string key, float? fallback)
        {
            double v = f.GetFloat($"{Arch}.{key}") ?? fallback ?? throw new ModelFormatException(path, $"missing metadata '{Arch}.{key}'");
            if (!double.IsFinite(v)) throw new ModelFormatException(path, $"metadata '{Arch}.{key}' = {v} is not finite");
            return (float)v;
        }

        if (!c.IsMoe) throw new ModelFormatException(path, $"missing metadata '{Arch}.expert_count'");
        int lead = (int)Required("leading_dense_block_count", 0, c.NumLayers - 1);
        int kvRank = (int)Required("attention.kv_lora_rank", 1, ModelLimits.MaxWidth);
        int qRank = (int)Optional("attention.q_lora_rank", 0, 0, ModelLimits.MaxWidth);
        if (qRank == 0 && f.HasTensor("blk.0.attn_q_a.weight")) throw new ModelFormatException(path, $"tensor 'blk.0.attn_q_a.weight' needs metadata '{Arch}.attention.q_lora_rank'");
        if (!f.Has($"{Arch}.attention.value_length")) throw new ModelFormatException(path, $"missing metadata '{Arch}.attention.value_length'");
        int vDim = (int)Required("attention.value_length", 1, ModelLimits.MaxHeadDim);
        if (!f.Has($"{Arch}.attention.key_length")) throw new ModelFormatException(path, $"missing metadata '{Arch}.attention.key_length'");
        if (!f.Has($"{Arch}.rope.dimension_count")) throw new ModelFormatException(path, $"missing metadata '{Arch}.rope.dimension_count'");
        int shared = (int)Required("expert_shared_count", 0, 64);
        int gating = (int)Optional("expert_gating_func", 0, 0, 2);
        int groups = (int)Optional("expert_group_count", 0, 0, c.ExpertCount);
        int groupsUsed = (int)Optional("expert_group_used_count", groups, 0, Math.Max(groups, 0));

        // rope.scaling.type decides YaRN as llama.cpp decides it (the default type is linear, factor 1).
        string scaling = f.GetString($"{Arch}.rope.scaling.type") ?? "linear";
        bool yarn = scaling == "yarn";
        var mla = new MlaConfig
        {
            QLoraRank = qRank,
            KvLoraRank = kvRank,
            QkNopeDim = c.HeadDim - c.RopeDim,
            QkRopeDim = c.RopeDim,
            VHeadDim = vDim,
            YarnLogMultiplier = Float("rope.scaling.yarn_log_multiplier", null),
            YarnExtFactor = yarn ? 1f : 0f,
            YarnOrigContext = (int)Optional("rope.scaling.original_context_length", c.ContextLength, 1, ModelLimits.MaxContext),
            AttnFactor = Float("rope.scaling.attn_factor", 1f),
        };
        return c with
        {
            RopeStyle = RopeStyle.Interleaved,
            Mla = mla,
            LeadingDenseLayers = lead,
            SharedExpertFfnDim = shared * c.ExpertFfnDim,
            ExpertGating = gating == 2 ? MoeGating.Sigmoid : MoeGating.Softmax,
            ExpertGroupCount = groups,
            ExpertGroupUsedCount = groupsUsed,
            ExpertWeightsScale = Float("expert_weights_scale", null),
        };
    }

    /// <summary>Layer <paramref name="i"/>'s tensors: latent attention, then a dense or a mixture-of-experts feed-forward.</summary>
    public static LayerWeights Layer(GgufFile f, ModelConfig c, int i)
    {
        string p = $"blk.{i}.";
        WeightTensor? Opt(string name) => f.HasTensor(name) ? f.GetTensor(name) : null;
        bool qLora = c.Mla!.QLoraRank > 0;
        bool moe = c.IsMoeLayer(i);
        return new LayerWeights
        {
            AttnNorm = f.GetTensor(p + "attn_norm.weight"),
            Wq = f.GetTensor(p + (qLora ? "attn_q_b.weight" : "attn_q.weight")),
            Wk = f.GetTensor(p + "attn_kv_a_mqa.weight"),
            Wv = f.GetTensor(p + "attn_kv_b.weight"),
            Wo = f.GetTensor(p + "attn_output.weight"),
            Mla = new MlaWeights
            {
                QA = qLora ? f.GetTensor(p + "attn_q_a.weight") : null,
                QANorm = qLora ? f.GetTensor(p + "attn_q_a_norm.weight") : null,
                KvANorm = f.GetTensor(p + "attn_kv_a_norm.weight"),
            },
            FfnNorm = f.GetTensor(p + "ffn_norm.weight"),
            WGate = moe ? null : f.GetTensor(p + "ffn_gate.weight"),
            WUp = moe ? null : f.GetTensor(p + "ffn_up.weight"),
            WDown = moe ? null : f.GetTensor(p + "ffn_down.weight"),
            Moe = moe ? new MoeWeights
            {
                Router = f.GetTensor(p + "ffn_gate_inp.weight"),
                GateExps = f.GetTensor(p + "ffn_gate_exps.weight"),
                UpExps = f.GetTensor(p + "ffn_up_exps.weight"),
                DownExps = f.GetTensor(p + "ffn_down_exps.weight"),
                GateShexp = c.SharedExpertFfnDim > 0 ? f.GetTensor(p + "ffn_gate_shexp.weight") : null,
                UpShexp = c.SharedExpertFfnDim > 0 ? f.GetTensor(p + "ffn_up_shexp.weight") : null,
                DownShexp = c.SharedExpertFfnDim > 0 ? f.GetTensor(p + "ffn_down_shexp.weight") : null,
                ProbsBias = Opt(p + "exp_probs_b.bias"),
            } : null,
        };
    }
}
