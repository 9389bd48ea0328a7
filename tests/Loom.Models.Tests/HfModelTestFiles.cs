using System.Text.Json;

namespace Loom.Models.Tests;

/// <summary>
/// Builds tiny Hugging Face checkpoint directories (config.json + safetensors) with deterministic
/// values, so tests can check that each tensor lands in the right place.
/// </summary>
public sealed class HfModelTestFiles
{
    public Dictionary<string, object?> Config { get; } = new()
    {
        ["architectures"] = new[] { "LlamaForCausalLM" },
        ["hidden_size"] = 32,
        ["intermediate_size"] = 48,
        ["num_hidden_layers"] = 2,
        ["num_attention_heads"] = 4,
        ["num_key_value_heads"] = 2,
        ["vocab_size"] = 40,
        ["max_position_embeddings"] = 128,
        ["rms_norm_eps"] = 1e-5,
        ["rope_theta"] = 10000.0,
        ["tie_word_embeddings"] = false,
    };

    /// <summary>Tensors by name: row-major shape and values.</summary>
    public Dictionary<string, (long[] Shape, float[] Values)> Tensors { get; } = [];

    public static HfModelTestFiles Llama(int headDim = 8, bool qkvBias = false, bool qkNorm = false)
    {
        var m = new HfModelTestFiles();
        int d = 32, f = 48, v = 40, q = 4 * headDim, kv = 2 * headDim;
        if (headDim != 8) m.Config["head_dim"] = headDim;
        m.Add("model.embed_tokens.weight", v, d);
        for (int l = 0; l < 2; l++)
        {
            string p = $"model.layers.{l}.";
            m.Add(p + "input_layernorm.weight", d);
            m.Add(p + "self_attn.q_proj.weight", q, d);
            m.Add(p + "self_attn.k_proj.weight", kv, d);
            m.Add(p + "self_attn.v_proj.weight", kv, d);
            m.Add(p + "self_attn.o_proj.weight", d, q);
            if (qkvBias) { m.Add(p + "self_attn.q_proj.bias", q); m.Add(p + "self_attn.k_proj.bias", kv); m.Add(p + "self_attn.v_proj.bias", kv); }
            if (qkNorm) { m.Add(p + "self_attn.q_norm.weight", headDim); m.Add(p + "self_attn.k_norm.weight", headDim); }
            m.Add(p + "post_attention_layernorm.weight", d);
            m.Add(p + "mlp.gate_proj.weight", f, d);
            m.Add(p + "mlp.up_proj.weight", f, d);
            m.Add(p + "mlp.down_proj.weight", d, f);
        }
        m.Add("model.norm.weight", d);
        m.Add("lm_head.weight", v, d);
        return m;
    }

    /// <summary>Adds a tensor whose values encode its name's hash and the element index, so any mix-up shows.</summary>
    public void Add(string name, params long[] shape)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        int salt = name.Aggregate(17, (h, ch) => unchecked(h * 31 + ch)) & 0xffff;
        Tensors[name] = (shape, Enumerable.Range(0, (int)n).Select(i => salt + i / 1024f).ToArray());
    }

    /// <summary>Writes config.json and either model.safetensors or <paramref name="shards"/> shards plus the index.</summary>
    public void Write(string dir, int shards = 1)
    {
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(Config));
        var all = Tensors.Select(t => StTensor.F32(t.Key, t.Value.Shape, t.Value.Values)).ToList();
        if (shards == 1)
        {
            SafeTensorsTestWriter.Write(Path.Combine(dir, "model.safetensors"), all);
            return;
        }
        var map = new Dictionary<string, string>();
        for (int s = 0; s < shards; s++)
        {
            string file = $"model-{s + 1:00000}-of-{shards:00000}.safetensors";
            var mine = all.Where((_, i) => i % shards == s).ToList();
            SafeTensorsTestWriter.Write(Path.Combine(dir, file), mine);
            foreach (var t in mine) map[t.Name] = file;
        }
        WriteIndex(dir, map);
    }

    public static void WriteIndex(string dir, Dictionary<string, string> map) =>
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"),
            JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));
}
