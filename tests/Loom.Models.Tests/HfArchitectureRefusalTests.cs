using Loom.Core.Tensors;
using Loom.Models.Formats.SafeTensors;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>Malformed configs and tensors of each architecture the HF loader added are refused naming the key or tensor.</summary>
public class HfArchitectureRefusalTests
{
    private const string Drop = "<drop>";

    /// <summary>(shape, config key or "", new value or <see cref="Drop"/>, tensor to drop or "", message part).</summary>
    public static TheoryData<string, string, object, string, string> Malformed => new()
    {
        { "mixtral-tiny", "num_local_experts", Drop, "", "config has no 'num_local_experts'" },
        { "mixtral-tiny", "num_experts_per_tok", 5, "", "config 'num_experts_per_tok' = 5 exceeds the 4 experts" },
        { "mixtral-tiny", "num_local_experts", 0, "", "config 'num_local_experts' = 0 is out of range" },
        { "mixtral-tiny", "sliding_window", -4, "", "config 'sliding_window' = -4 must be positive" },
        { "mixtral-tiny", "", "", "model.layers.1.block_sparse_moe.experts.3.w2.weight", "missing tensor 'model.layers.1.block_sparse_moe.experts.3.w2.weight'" },
        { "mixtral-tiny", "", "", "model.layers.0.block_sparse_moe.gate.weight", "missing tensor 'model.layers.0.block_sparse_moe.gate.weight'" },
        { "mixtral-tiny", "hidden_act", "gelu", "", "config 'hidden_act' = 'gelu' is not supported" },
        { "qwen3moe-tiny", "moe_intermediate_size", Drop, "", "config has no 'moe_intermediate_size'" },
        { "qwen3moe-tiny", "decoder_sparse_step", 2, "", "config 'decoder_sparse_step' = 2 is not supported" },
        { "qwen3moe-tiny", "mlp_only_layers", new[] { 0 }, "", "config 'mlp_only_layers' is not supported" },
        { "qwen3moe-tiny", "num_experts", "eight", "", "config 'num_experts' is not a 32-bit integer" },
        { "qwen3moe-tiny", "", "", "model.layers.0.self_attn.k_norm.weight", "missing tensor 'model.layers.0.self_attn.k_norm.weight'" },
        { "qwen2moe-tiny", "shared_expert_intermediate_size", 0, "", "config 'shared_expert_intermediate_size' = 0 is out of range" },
        { "qwen2moe-tiny", "use_sliding_window", true, "", "config 'use_sliding_window' is not supported" },
        { "qwen2moe-tiny", "", "", "model.layers.1.mlp.shared_expert_gate.weight", "missing tensor 'model.layers.1.mlp.shared_expert_gate.weight'" },
        { "qwen2moe-tiny", "", "", "model.layers.0.mlp.experts.7.up_proj.weight", "missing tensor 'model.layers.0.mlp.experts.7.up_proj.weight'" },
        { "olmoe-tiny", "clip_qkv", 8.0, "", "config 'clip_qkv' = 8 is not supported" },
        { "olmoe-tiny", "num_experts_per_tok", Drop, "", "config has no 'num_experts_per_tok'" },
        { "gemma2-tiny", "hidden_activation", "gelu", "", "config 'hidden_activation' = 'gelu' is not supported" },
        { "gemma2-tiny", "attn_logit_softcapping", -1.0, "", "config 'attn_logit_softcapping' = -1 must be a finite non-negative number" },
        { "gemma2-tiny", "sliding_window", 0, "", "config 'sliding_window' = 0 is out of range" },
        { "gemma2-tiny", "query_pre_attn_scalar", 0, "", "config 'query_pre_attn_scalar' = 0 must be positive" },
        { "gemma2-tiny", "layer_types", new[] { "sliding_attention" }, "", "config 'layer_types' has 1 entries for 26 layers" },
        { "gemma2-tiny", "", "", "model.layers.3.pre_feedforward_layernorm.weight", "missing tensor 'model.layers.3.pre_feedforward_layernorm.weight'" },
        { "gemma2-tiny", "", "", "model.layers.0.post_feedforward_layernorm.weight", "missing tensor 'model.layers.0.post_feedforward_layernorm.weight'" },
        { "gemma3-tiny", "rope_local_base_freq", 0, "", "config 'rope_local_base_freq' = 0 must be positive" },
        { "gemma3-tiny", "layer_types", Enumerable.Repeat("local", 8).ToArray(), "", "config 'layer_types' entry 'local' is not sliding_attention or full_attention" },
        { "gemma3-tiny", "sliding_window_pattern", 0, "", "config 'sliding_window_pattern' = 0 must be positive" },
        { "gemma3-tiny", "", "", "model.layers.5.self_attn.q_norm.weight", "missing tensor 'model.layers.5.self_attn.q_norm.weight'" },
        { "phi3-tiny", "rope_scaling", new Dictionary<string, object> { ["type"] = "yarn", ["factor"] = 2.0 }, "", "phi3 rope_scaling type 'yarn' is not supported" },
        { "phi3-tiny", "rope_scaling", new Dictionary<string, object> { ["type"] = "longrope", ["long_factor"] = new[] { 1.0, 2.0 }, ["short_factor"] = new[] { 1.0, 2.0 } },
            "", "rope_scaling 'long_factor' has 2 values, rope dim / 2 is 8" },
        { "phi3-tiny", "rope_scaling", new Dictionary<string, object> { ["type"] = "longrope", ["long_factor"] = new double[8] },
            "", "rope_scaling 'long_factor' holds a value that is not positive" },
        { "deepseek2-tiny", "kv_lora_rank", Drop, "", "config has no 'kv_lora_rank'" },
        { "deepseek2-tiny", "topk_method", "group_limited_greedy", "", "config 'topk_method' = 'group_limited_greedy' is not supported" },
        { "deepseek2-tiny", "scoring_func", "sigmoid", "", "config 'scoring_func' = 'sigmoid' is not supported" },
        { "deepseek2-tiny", "moe_layer_freq", 2, "", "config 'moe_layer_freq' = 2 is not supported" },
        { "deepseek2-tiny", "first_k_dense_replace", 3, "", "config 'first_k_dense_replace' = 3 is out of range (0 to 2)" },
        { "deepseek2-tiny", "norm_topk_prob", true, "", "config 'norm_topk_prob' with 'routed_scaling_factor' = 2 is not supported" },
        { "deepseek2-tiny", "qk_rope_head_dim", 0, "", "config 'qk_rope_head_dim' = 0 is out of range" },
        { "deepseek2-tiny", "rope_scaling", new Dictionary<string, object> { ["type"] = "linear", ["factor"] = 2.0 }, "", "deepseek2 rope_scaling type 'linear' is not supported (only yarn)" },
        { "deepseek2-tiny", "rope_scaling", new Dictionary<string, object> { ["type"] = "yarn", ["factor"] = 4.0, ["original_max_position_embeddings"] = 64, ["mscale"] = 1.0, ["mscale_all_dim"] = 0.7 },
            "", "rope_scaling 'mscale' = 1 differs from 'mscale_all_dim' = 0.7" },
        { "deepseek2-tiny", "rope_scaling", new Dictionary<string, object> { ["type"] = "yarn", ["factor"] = 4.0 }, "", "yarn rope_scaling without 'original_max_position_embeddings'" },
        { "deepseek2-tiny", "", "", "model.layers.2.self_attn.kv_a_proj_with_mqa.weight", "missing tensor 'model.layers.2.self_attn.kv_a_proj_with_mqa.weight'" },
        { "deepseek2-tiny", "", "", "model.layers.0.self_attn.q_a_layernorm.weight", "missing tensor 'model.layers.0.self_attn.q_a_layernorm.weight'" },
        { "deepseek2-tiny", "", "", "model.layers.1.mlp.shared_experts.up_proj.weight", "missing tensor 'model.layers.1.mlp.shared_experts.up_proj.weight'" },
        { "deepseek2-tiny", "", "", "model.layers.0.mlp.down_proj.weight", "missing tensor 'model.layers.0.mlp.down_proj.weight'" },
        { "phi3-tiny", "original_max_position_embeddings", Drop, "", "longrope rope_scaling needs 'original_max_position_embeddings'" },
        { "phi3-tiny", "sliding_window", -1, "", "config 'sliding_window' = -1 must not be negative" },
        { "phi3-tiny", "", "", "model.layers.1.self_attn.qkv_proj.weight", "missing tensor 'model.layers.1.self_attn.qkv_proj.weight'" },
        { "phi3-tiny", "", "", "model.layers.0.mlp.gate_up_proj.weight", "missing tensor 'model.layers.0.mlp.gate_up_proj.weight'" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedCheckpointIsRefused(string shape, string key, object value, string dropTensor, string message)
    {
        using var dir = new TempDir();
        var spec = HfArchitectureTests.Spec(shape);
        string gguf = dir.File("model.gguf");
        SyntheticModel.Write(gguf, spec, GgmlType.F32);
        var config = HfCheckpointFromGguf.Config(spec, gguf);
        if (key.Length > 0)
        {
            if (value is Drop) config.Remove(key);
            else config[key] = value;
        }
        var tensors = HfCheckpointFromGguf.Tensors(gguf, spec).Where(t => t.Name != dropTensor).ToList();
        File.WriteAllText(dir.File("config.json"), System.Text.Json.JsonSerializer.Serialize(config));
        SafeTensorsTestWriter.Write(dir.File("model.safetensors"), tensors);
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        Assert.Contains(message, e.Message);
    }

    /// <summary>An expert matrix of the wrong shape, or in another dtype than its siblings, is named.</summary>
    [Theory]
    [InlineData("shape")]
    [InlineData("dtype")]
    public void BadExpertTensorIsNamed(string what)
    {
        using var dir = new TempDir();
        var spec = SyntheticModelSpec.Qwen3MoeTiny;
        string gguf = dir.File("model.gguf");
        SyntheticModel.Write(gguf, spec, GgmlType.F32);
        const string Bad = "model.layers.1.mlp.experts.5.down_proj.weight";
        var tensors = HfCheckpointFromGguf.Tensors(gguf, spec).Select(t => t.Name != Bad ? t
            : what == "shape" ? t with { Shape = [t.Shape[0] / 2, t.Shape[1] * 2] }
            : new StTensor(t.Name, "F16", t.Shape, new byte[t.Data.Length / 2])).ToList();
        File.WriteAllText(dir.File("config.json"), System.Text.Json.JsonSerializer.Serialize(HfCheckpointFromGguf.Config(spec)));
        SafeTensorsTestWriter.Write(dir.File("model.safetensors"), tensors);
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        Assert.Contains($"tensor '{Bad}'", e.Message);
        Assert.Contains(what == "shape" ? "config needs [64, 64]" : "experts must share a dtype", e.Message);
    }
}
