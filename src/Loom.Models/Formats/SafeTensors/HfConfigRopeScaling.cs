using Loom.Models.Architectures;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// RoPE scaling from a Hugging Face <c>rope_scaling</c> block, turned into the numbers llama.cpp would
/// store in a converted GGUF: a linear position scale, or Llama 3's per-frequency divisors.
/// </summary>
public static class HfConfigRopeScaling
{
    /// <summary>
    /// Llama 3 frequency divisors, one per rotated pair, as llama.cpp's converter computes its
    /// <c>rope_freqs</c> tensor: high frequencies (short wavelengths) are kept, low ones are divided by
    /// <paramref name="factor"/>, and the band between is blended smoothly. Arithmetic is float32 throughout,
    /// like the torch code it must reproduce bit for bit.
    /// </summary>
    public static float[] Llama3Factors(int ropeDim, double theta, double factor, double lowFreqFactor,
        double highFreqFactor, double originalContext)
    {
        if (ropeDim <= 0 || ropeDim % 2 != 0) throw new ArgumentOutOfRangeException(nameof(ropeDim));
        float lowWavelen = (float)(originalContext / lowFreqFactor);
        float highWavelen = (float)(originalContext / highFreqFactor);
        float f = (float)factor, low = (float)lowFreqFactor, band = (float)(highFreqFactor - lowFreqFactor);
        float twoPi = (float)(2 * Math.PI), ctx = (float)originalContext;

        var result = new float[ropeDim / 2];
        for (int i = 0; i < result.Length; i++)
        {
            float freq = 1f / MathF.Pow((float)theta, (float)(2 * i) / ropeDim);
            float wavelen = twoPi / freq;
            if (wavelen < highWavelen) result[i] = 1f;
            else if (wavelen > lowWavelen) result[i] = f;
            else
            {
                float smooth = (ctx / wavelen - low) / band;
                result[i] = 1f / ((1f - smooth) / f + smooth);
            }
        }
        return result;
    }

    /// <summary>
    /// Applies <paramref name="scaling"/> (rope_type or legacy type: default, linear, llama3) to
    /// <paramref name="config"/>; anything else is refused, since running it unscaled would give wrong outputs
    /// past the original context.
    /// </summary>
    internal static ModelConfig Apply(string path, ModelConfig config, HfConfigJson scaling)
    {
        string type = (scaling.String("rope_type") ?? scaling.String("type") ?? "default").ToLowerInvariant();
        switch (type)
        {
            case "default":
                return config;
            case "linear":
            {
                double factor = scaling.Double("factor") ?? throw new ModelFormatException(path, "linear rope_scaling without a factor");
                if (!(factor > 0) || !double.IsFinite(factor)) throw new ModelFormatException(path, $"rope_scaling factor {factor}");
                return config with { RopeFreqScale = (float)(1.0 / factor) };
            }
            case "llama3":
            {
                double factor = scaling.Double("factor") ?? 8.0;
                double low = scaling.Double("low_freq_factor") ?? 1.0;
                double high = scaling.Double("high_freq_factor") ?? 4.0;
                double ctx = scaling.Double("original_max_position_embeddings") ?? 8192;
                if (!(factor > 0) || !(low > 0) || !(high > 0) || !(ctx > 0) || low == high
                    || !double.IsFinite(factor + low + high + ctx))
                    throw new ModelFormatException(path, $"llama3 rope_scaling has bad values (factor {factor}, low {low}, high {high}, context {ctx})");
                return config with { RopeFreqFactors = Llama3Factors(config.RopeDim, config.RopeTheta, factor, low, high, ctx) };
            }
            default:
                throw new ModelFormatException(path, $"rope_scaling type '{type}' is not supported (only linear and llama3)");
        }
    }
}
