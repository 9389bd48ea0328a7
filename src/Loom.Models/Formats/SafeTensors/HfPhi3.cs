using Loom.Core.Tensors;
using Loom.Models.Architectures;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// Phi-3 (<c>Phi3ForCausalLM</c>) as llama.cpp's converter reads it: LongRoPE from <c>rope_scaling</c>
/// (<c>long_factor</c>/<c>short_factor</c>, <c>original_max_position_embeddings</c>, its attention factor), the sliding
/// window on every layer (null: none), Q scaled by 1/√head dim, and the fused <c>qkv_proj</c>/<c>gate_up_proj</c>
/// taken as row views of the mapped file, as <see cref="Gguf.Phi3Gguf"/> takes the GGUF's.
/// </summary>
internal static class HfPhi3
{
    public const string Class = "Phi3ForCausalLM";

    /// <summary><paramref name="scaling"/>: <c>rope_scaling</c> (or transformers v5's <c>rope_parameters</c>), if any.</summary>
    public static ModelConfig Apply(HfConfigJson j, ModelConfig c, HfConfigJson? scaling)
    {
        string path = j.Path;
        LongRope? longRope = null;
        double attnFactor = 1.0;
        if (scaling is { } s && (s.String("type") ?? s.String("rope_type")) != "default")
        {
            string type = (s.String("type") ?? s.String("rope_type") ?? "").ToLowerInvariant();
            if (type is not ("longrope" or "su"))
                throw new ModelFormatException(path, $"phi3 rope_scaling type '{type}' is not supported (only longrope)");
            int orig = j.Int("original_max_position_embeddings") ?? s.Int("original_max_position_embeddings")
                ?? throw new ModelFormatException(path, "longrope rope_scaling needs 'original_max_position_embeddings'");
            if (orig <= 0 || orig > ModelLimits.MaxContext)
                throw new ModelFormatException(path, $"config 'original_max_position_embeddings' = {orig} is out of range ({ModelLimits.Range(ModelLimits.MaxContext)})");
            longRope = new LongRope(Factors(s, "long_factor", c.RopeDim), Factors(s, "short_factor", c.RopeDim), orig);
            // transformers' and the converter's default: sqrt(1 + ln(scale) / ln(original context)) when extended.
            double scale = (double)c.ContextLength / orig;
            attnFactor = s.Double("attention_factor") ?? (scale > 1 ? Math.Sqrt(1 + Math.Log(scale) / Math.Log(orig)) : 1.0);
            if (!(attnFactor > 0)) throw new ModelFormatException(path, $"rope_scaling 'attention_factor' = {attnFactor} must be positive");
        }
        int window = j.Int("sliding_window") ?? 0;
        if (window < 0) throw new ModelFormatException(path, $"config 'sliding_window' = {window} must not be negative");
        return c with
        {
            LongRope = longRope, RopeAttnFactor = (float)attnFactor,
            SlidingWindow = window, SlidingLayers = window > 0 ? Enumerable.Repeat(true, c.NumLayers).ToArray() : null,
            QueryScale = 1.0f / MathF.Sqrt(c.HeadDim),
        };
    }

    private static float[] Factors(HfConfigJson s, string key, int ropeDim)
    {
        var v = s.Doubles(key) ?? throw new ModelFormatException(s.Path, $"longrope rope_scaling has no '{key}'");
        if (v.Length != ropeDim / 2) throw new ModelFormatException(s.Path, $"rope_scaling '{key}' has {v.Length} values, rope dim / 2 is {ropeDim / 2}");
        if (v.Any(x => !(x > 0))) throw new ModelFormatException(s.Path, $"rope_scaling '{key}' holds a value that is not positive");
        return v.Select(x => (float)x).ToArray();
    }

    /// <summary>Q, K, V and gate, up as row views of <c>qkv_proj</c> and <c>gate_up_proj</c> (gate rows first).</summary>
    public static LayerWeights Layer(ModelConfig c, HfTensors t, int i)
    {
        string p = $"model.layers.{i}.";
        long qDim = (long)c.NumHeads * c.HeadDim, kvDim = (long)c.NumKvHeads * c.HeadDim;
        var qkv = t.Get(p + "self_attn.qkv_proj.weight", c.Dim, qDim + 2 * kvDim);
        var gateUp = t.Get(p + "mlp.gate_up_proj.weight", c.Dim, 2L * c.FfnDim);
        return new LayerWeights
        {
            AttnNorm = t.Get(p + "input_layernorm.weight", c.Dim),
            Wq = HfTensors.Rows(qkv, 0, qDim),
            Wk = HfTensors.Rows(qkv, qDim, kvDim),
            Wv = HfTensors.Rows(qkv, qDim + kvDim, kvDim),
            Wo = t.Get(p + "self_attn.o_proj.weight", qDim, c.Dim),
            FfnNorm = t.Get(p + "post_attention_layernorm.weight", c.Dim),
            WGate = HfTensors.Rows(gateUp, 0, c.FfnDim),
            WUp = HfTensors.Rows(gateUp, c.FfnDim, c.FfnDim),
            WDown = t.Get(p + "mlp.down_proj.weight", c.FfnDim, c.Dim),
        };
    }
}
