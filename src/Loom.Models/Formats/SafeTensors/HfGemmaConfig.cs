using Loom.Models.Architectures;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// Gemma 2 and Gemma 3 (text) config keys as transformers reads them, laid over the Llama-family configuration:
/// <c>query_pre_attn_scalar</c> (Q is scaled by its inverse square root), <c>attn_logit_softcapping</c> and
/// <c>final_logit_softcapping</c> (a JSON null switches one off), <c>sliding_window</c> with <c>layer_types</c> or the
/// default pattern, and Gemma 3's <c>rope_local_base_freq</c> for its sliding layers.
/// </summary>
internal static class HfGemmaConfig
{
    public static bool Is(string arch) => arch is "gemma2" or "gemma3";

    /// <summary><paramref name="slidingParams"/>: transformers v5's rope_parameters of the sliding layers, if any.</summary>
    public static ModelConfig Apply(HfConfigJson j, ModelConfig c, HfConfigJson? slidingParams)
    {
        string path = j.Path;
        bool g2 = c.Architecture == "gemma2";
        int window = j.Int("sliding_window") ?? 4096;
        if (window <= 0 || window > ModelLimits.MaxContext)
            throw new ModelFormatException(path, $"config 'sliding_window' = {window} is out of range ({ModelLimits.Range(ModelLimits.MaxContext)})");
        float Cap(string key, double fallback)
        {
            if (j.IsNull(key)) return 0;
            double v = j.Double(key) ?? fallback;
            if (!(v >= 0) || !double.IsFinite(v)) throw new ModelFormatException(path, $"config '{key}' = {v} must be a finite non-negative number");
            return (float)v;
        }
        double scalar = j.Double("query_pre_attn_scalar") ?? 256;
        if (!(scalar > 0)) throw new ModelFormatException(path, $"config 'query_pre_attn_scalar' = {scalar} must be positive");
        double localTheta = g2 ? 0 : j.Double("rope_local_base_freq") ?? slidingParams?.Double("rope_theta") ?? 10000.0;
        if (!g2 && slidingParams is { } sp && (sp.String("rope_type") ?? "default") != "default")
            throw new ModelFormatException(path, $"rope_parameters.sliding_attention rope_type '{sp.String("rope_type")}' is not supported (the sliding layers' RoPE is unscaled)");
        if (!g2 && !(localTheta > 0)) throw new ModelFormatException(path, $"config 'rope_local_base_freq' = {localTheta} must be positive");
        return c with
        {
            EmbeddingScale = MathF.Sqrt(c.Dim),
            QueryScale = 1.0f / MathF.Sqrt((float)scalar),
            // Gemma 2's config class caps attention at 50 and logits at 30 unless told otherwise; Gemma 3's caps nothing.
            AttnSoftcap = Cap("attn_logit_softcapping", g2 ? 50 : 0),
            FinalSoftcap = Cap("final_logit_softcapping", g2 ? 30 : 0),
            SlidingWindow = window,
            SlidingLayers = SlidingLayers(j, c, g2),
            SlidingRopeTheta = (float)localTheta,
            PostNorms = true,
            Activation = FfnActivation.GeluTanh,
            // The classifier is the embedding: transformers ties it, and llama.cpp ignores any lm_head.
            TiedEmbeddings = true,
            QkNorm = !g2,
        };
    }

    /// <summary>
    /// <c>layer_types</c> when the config lists them; otherwise transformers' pattern: Gemma 2 slides on every other
    /// layer from the first, Gemma 3 on all but every <c>sliding_window_pattern</c>-th (6).
    /// </summary>
    private static bool[] SlidingLayers(HfConfigJson j, ModelConfig c, bool g2)
    {
        if (j.Strings("layer_types") is { } types)
        {
            if (types.Length != c.NumLayers)
                throw new ModelFormatException(j.Path, $"config 'layer_types' has {types.Length} entries for {c.NumLayers} layers");
            return types.Select(t => t switch
            {
                "sliding_attention" => true,
                "full_attention" => false,
                _ => throw new ModelFormatException(j.Path, $"config 'layer_types' entry '{t}' is not sliding_attention or full_attention"),
            }).ToArray();
        }
        int pattern = g2 ? 2 : j.Int("sliding_window_pattern") ?? 6;
        if (pattern <= 0) throw new ModelFormatException(j.Path, $"config 'sliding_window_pattern' = {pattern} must be positive");
        return Enumerable.Range(0, c.NumLayers).Select(l => (l + 1) % pattern != 0).ToArray();
    }
}
