using System.Runtime.InteropServices;
using System.Text.Json;
using Loom.Core.Tensors;
using Loom.Models.Formats.Gguf;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>
/// Writes a synthetic GGUF model (F32, F16 or BF16) out as the Hugging Face checkpoint llama.cpp's converter would have made it from:
/// the converter's transforms undone (llama Q/K rows back to rotate-half order, stacked experts split per expert,
/// Gemma's norms minus 1, Phi-3's fused tensors kept fused) under transformers' names, with a config.json in
/// transformers' keys. Loading the directory must then give the GGUF's model.
/// </summary>
internal static class HfCheckpointFromGguf
{
    /// <summary>The transformers class each synthetic architecture comes from (llama with experts is Mixtral).</summary>
    public static string ClassOf(SyntheticModelSpec s) => s.Architecture switch
    {
        "llama" => s.IsMoe ? "MixtralForCausalLM" : "LlamaForCausalLM",
        "qwen2moe" => "Qwen2MoeForCausalLM",
        "qwen3moe" => "Qwen3MoeForCausalLM",
        "olmoe" => "OlmoeForCausalLM",
        "gemma2" => "Gemma2ForCausalLM",
        "gemma3" => "Gemma3ForCausalLM",
        "phi3" => "Phi3ForCausalLM",
        "deepseek2" => "DeepseekV2ForCausalLM",
        var a => throw new ArgumentException($"no HF class for {a}"),
    };

    /// <summary>
    /// config.json as the checkpoint's authors would have written it for <paramref name="s"/>; phi3's LongRoPE factors
    /// are read from the GGUF at <paramref name="ggufPath"/>.
    /// </summary>
    public static Dictionary<string, object?> Config(SyntheticModelSpec s, string? ggufPath = null)
    {
        int hd = s.EffectiveHeadDim;
        var c = new Dictionary<string, object?>
        {
            ["architectures"] = new[] { ClassOf(s) },
            ["hidden_size"] = s.Dim,
            ["intermediate_size"] = s.FfnDim,
            ["num_hidden_layers"] = s.NumLayers,
            ["num_attention_heads"] = s.NumHeads,
            ["num_key_value_heads"] = s.NumKvHeads,
            ["head_dim"] = hd,
            ["vocab_size"] = s.VocabSize,
            ["max_position_embeddings"] = s.ContextLength,
            ["rms_norm_eps"] = (double)s.RmsNormEps,
            ["rope_theta"] = (double)s.RopeTheta,
            ["tie_word_embeddings"] = s.TiedEmbeddings,
        };
        switch (s.Architecture)
        {
            case "llama" when s.IsMoe:
                c["num_local_experts"] = s.ExpertCount; c["num_experts_per_tok"] = s.ExpertUsedCount; c["sliding_window"] = null;
                break;
            case "qwen2moe":
                c["num_experts"] = s.ExpertCount; c["num_experts_per_tok"] = s.ExpertUsedCount;
                c["moe_intermediate_size"] = s.EffectiveExpertFfnDim; c["shared_expert_intermediate_size"] = s.SharedExpertFfnDim;
                c["norm_topk_prob"] = false; c["decoder_sparse_step"] = 1; c["mlp_only_layers"] = Array.Empty<int>(); c["use_sliding_window"] = false;
                break;
            case "qwen3moe":
                c["num_experts"] = s.ExpertCount; c["num_experts_per_tok"] = s.ExpertUsedCount;
                c["moe_intermediate_size"] = s.EffectiveExpertFfnDim; c["norm_topk_prob"] = true; c["decoder_sparse_step"] = 1;
                break;
            case "olmoe":
                c["num_experts"] = s.ExpertCount; c["num_experts_per_tok"] = s.ExpertUsedCount; c["norm_topk_prob"] = false; c["clip_qkv"] = null;
                break;
            case "gemma2" or "gemma3":
                c["hidden_activation"] = "gelu_pytorch_tanh";
                c["query_pre_attn_scalar"] = hd;
                c["sliding_window"] = s.SlidingWindow;
                c["attn_logit_softcapping"] = s.AttnSoftcap > 0 ? s.AttnSoftcap : null;
                c["final_logit_softcapping"] = s.FinalSoftcap > 0 ? s.FinalSoftcap : null;
                if (s.Architecture == "gemma3") c["rope_local_base_freq"] = 10000.0;
                break;
            case "deepseek2":
            {
                var m = s.Mla!;
                c.Remove("head_dim");
                c["q_lora_rank"] = m.QLoraRank > 0 ? m.QLoraRank : null;
                c["kv_lora_rank"] = m.KvLoraRank; c["qk_nope_head_dim"] = m.QkNopeDim; c["qk_rope_head_dim"] = m.QkRopeDim; c["v_head_dim"] = m.VHeadDim;
                c["n_routed_experts"] = s.ExpertCount; c["n_shared_experts"] = m.SharedExperts; c["num_experts_per_tok"] = s.ExpertUsedCount;
                c["moe_intermediate_size"] = s.EffectiveExpertFfnDim; c["first_k_dense_replace"] = m.LeadingDenseLayers; c["moe_layer_freq"] = 1;
                c["norm_topk_prob"] = m.WeightsNorm; c["routed_scaling_factor"] = (double)m.WeightsScale;
                c["scoring_func"] = m.GatingFunc == 2 ? "sigmoid" : "softmax"; c["topk_method"] = "greedy"; c["n_group"] = null; c["topk_group"] = null;
                if (m.YarnFactor > 0)
                    c["rope_scaling"] = new Dictionary<string, object>
                    {
                        ["type"] = "yarn", ["factor"] = (double)m.YarnFactor, ["original_max_position_embeddings"] = m.YarnOrigContext,
                        ["mscale"] = m.YarnLogMultiplier * 10.0, ["mscale_all_dim"] = m.YarnLogMultiplier * 10.0, ["beta_fast"] = 32, ["beta_slow"] = 1,
                    };
                break;
            }
            case "phi3":
                c["hidden_act"] = "silu";
                c["sliding_window"] = s.SlidingWindow > 0 ? s.SlidingWindow : null;
                if (s.LongRopeOriginalContext is int orig)
                {
                    using var f = GgufFile.Open(ggufPath ?? throw new ArgumentException("phi3's rope factors come from the GGUF"));
                    float[] Factors(string name) => MemoryMarshal.Cast<byte, float>(f.GetTensor(name).Bytes).ToArray();
                    c["original_max_position_embeddings"] = orig;
                    c["rope_scaling"] = new Dictionary<string, object>
                    {
                        ["type"] = "longrope",
                        ["long_factor"] = Factors("rope_factors_long.weight").Select(x => (double)x).ToArray(),
                        ["short_factor"] = Factors("rope_factors_short.weight").Select(x => (double)x).ToArray(),
                    };
                }
                break;
        }
        return c;
    }

    /// <summary>HF name of a GGUF tensor name without its block prefix, for the non-expert tensors.</summary>
    private static string? HfName(SyntheticModelSpec s, string name) => name switch
    {
        "attn_norm.weight" => "input_layernorm.weight",
        "attn_q.weight" => "self_attn.q_proj.weight", "attn_k.weight" => "self_attn.k_proj.weight",
        "attn_v.weight" => "self_attn.v_proj.weight", "attn_output.weight" => "self_attn.o_proj.weight",
        "attn_q.bias" => "self_attn.q_proj.bias", "attn_k.bias" => "self_attn.k_proj.bias", "attn_v.bias" => "self_attn.v_proj.bias",
        "attn_q_norm.weight" => "self_attn.q_norm.weight", "attn_k_norm.weight" => "self_attn.k_norm.weight",
        "attn_qkv.weight" => "self_attn.qkv_proj.weight",
        "ffn_norm.weight" => s.IsGemma ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight",
        "post_attention_norm.weight" => "post_attention_layernorm.weight",
        "post_ffw_norm.weight" => "post_feedforward_layernorm.weight",
        "ffn_gate.weight" => "mlp.gate_proj.weight",
        "ffn_up.weight" => s.Phi3 ? "mlp.gate_up_proj.weight" : "mlp.up_proj.weight",
        "ffn_down.weight" => "mlp.down_proj.weight",
        "ffn_gate_inp.weight" => s.Architecture == "llama" ? "block_sparse_moe.gate.weight" : "mlp.gate.weight",
        "ffn_gate_inp_shexp.weight" => "mlp.shared_expert_gate.weight",
        "ffn_gate_shexp.weight" => "mlp.shared_expert.gate_proj.weight",
        "ffn_up_shexp.weight" => "mlp.shared_expert.up_proj.weight",
        "ffn_down_shexp.weight" => "mlp.shared_expert.down_proj.weight",
        "attn_q_a.weight" => "self_attn.q_a_proj.weight", "attn_q_a_norm.weight" => "self_attn.q_a_layernorm.weight",
        "attn_q_b.weight" => "self_attn.q_b_proj.weight", "attn_kv_a_mqa.weight" => "self_attn.kv_a_proj_with_mqa.weight",
        "attn_kv_a_norm.weight" => "self_attn.kv_a_layernorm.weight", "attn_kv_b.weight" => "self_attn.kv_b_proj.weight",
        _ => null,
    };

    /// <summary>Writes <paramref name="ggufPath"/> (F32, F16 or BF16) as an HF directory in <paramref name="dir"/>.</summary>
    public static void Write(string ggufPath, SyntheticModelSpec s, string dir, Dictionary<string, object?>? config = null)
    {
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(config ?? Config(s, ggufPath)));
        SafeTensorsTestWriter.Write(Path.Combine(dir, "model.safetensors"), Tensors(ggufPath, s));
    }

    /// <summary>
    /// The HF tensors of the GGUF at <paramref name="ggufPath"/>, each in its GGUF type (F32, F16 or BF16), as a
    /// converted checkpoint keeps matrices in the checkpoint's dtype and norms and routers in F32.
    /// </summary>
    public static List<StTensor> Tensors(string ggufPath, SyntheticModelSpec s)
    {
        using var f = GgufFile.Open(ggufPath);
        var result = new List<StTensor>();
        bool mixtral = s.Architecture == "llama" && s.IsMoe;
        int hd = s.EffectiveHeadDim;
        foreach (var info in f.Tensors)
        {
            var t = f.GetTensor(info.Name);
            string dtype = t.Type switch
            {
                GgmlType.F32 => "F32", GgmlType.F16 => "F16", GgmlType.BF16 => "BF16",
                _ => throw new ArgumentException($"{info.Name} is {t.Type}; write the synthetic model in F32, F16 or BF16"),
            };
            byte[] v = t.Bytes.ToArray();
            long[] hfShape = info.Shape.Reverse().ToArray();
            void Add(string name, long[] shape, byte[] bytes) => result.Add(new StTensor(name, dtype, shape, bytes));
            switch (info.Name)
            {
                case "token_embd.weight": Add("model.embed_tokens.weight", hfShape, v); continue;
                case "output.weight": Add("lm_head.weight", hfShape, v); continue;
                case "output_norm.weight": Add("model.norm.weight", hfShape, s.IsGemma ? MinusOne(v) : v); continue;
                case "rope_factors_long.weight" or "rope_factors_short.weight": continue; // config.json's rope_scaling
            }
            int dot = info.Name.IndexOf('.', 4);
            string p = $"model.layers.{info.Name[4..dot]}.", rest = info.Name[(dot + 1)..];
            if (rest is "ffn_gate_exps.weight" or "ffn_up_exps.weight" or "ffn_down_exps.weight")
            {
                string w = rest switch
                {
                    "ffn_gate_exps.weight" => mixtral ? "w1" : "gate_proj",
                    "ffn_up_exps.weight" => mixtral ? "w3" : "up_proj",
                    _ => mixtral ? "w2" : "down_proj",
                };
                int each = v.Length / (int)info.Shape[2];
                for (int e = 0; e < info.Shape[2]; e++)
                    Add($"{p}{(mixtral ? "block_sparse_moe" : "mlp")}.experts.{e}.{w}.weight", [info.Shape[1], info.Shape[0]], v[(e * each)..((e + 1) * each)]);
                continue;
            }
            string name = HfName(s, rest) ?? throw new ArgumentException($"no HF name for {info.Name}");
            if (rest == "ffn_gate_inp_shexp.weight") hfShape = [1, info.Shape[0]];
            if (s.Mla is not null) name = name.Replace("shared_expert.", "shared_experts."); // DeepSeek's are plural and ungated
            if (s.Architecture == "llama" && rest is "attn_q.weight" or "attn_k.weight") v = Unpermute(v, (int)t.RowBytes, hd);
            if (s.IsGemma && rest.EndsWith("norm.weight", StringComparison.Ordinal)) v = MinusOne(v);
            Add(p + name, hfShape, v);
        }
        return result;
    }

    /// <summary>Gemma norms: the GGUF stores w + 1, HF stores w. Exact for the synthetic weights, which lie in [0.5, 2].</summary>
    private static byte[] MinusOne(byte[] bytes)
    {
        var v = MemoryMarshal.Cast<byte, float>(bytes); // norms are F32 in every GGUF the synthetic writer makes
        var r = new float[v.Length];
        for (int i = 0; i < v.Length; i++)
            if ((r[i] = v[i] - 1f) + 1f != v[i]) throw new InvalidOperationException("norm weight not exactly invertible");
        return MemoryMarshal.AsBytes(r.AsSpan()).ToArray();
    }

    /// <summary>
    /// Undoes the converter's Q/K permutation, which puts rotate-half partners (i, i + d/2) in adjacent rows
    /// (2i, 2i + 1): GGUF row 2i + j of a head is HF row j·d/2 + i.
    /// </summary>
    private static byte[] Unpermute(byte[] v, int rowBytes, int headDim)
    {
        var r = new byte[v.Length];
        for (int row = 0; row < v.Length / rowBytes; row++)
        {
            int head = row / headDim, within = row % headDim;
            int hfRow = head * headDim + within % 2 * (headDim / 2) + within / 2;
            Array.Copy(v, row * rowBytes, r, hfRow * rowBytes, rowBytes);
        }
        return r;
    }
}
