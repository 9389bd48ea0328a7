namespace Loom.Core.Kernels;

/// <summary>RMS normalization: y = x / sqrt(mean(x²) + eps) * w.</summary>
public static class RmsNorm
{
    /// <summary>
    /// Normalizes <paramref name="x"/> into <paramref name="y"/> and multiplies by <paramref name="weight"/>.
    /// The sum of squares runs in double and the scale in float, as ggml computes it, so logits track llama.cpp's.
    /// </summary>
    public static void Apply(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += (double)(x[i] * x[i]);
        float mean = (float)(sum / x.Length);
        float scale = 1.0f / MathF.Sqrt(mean + eps);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * scale * weight[i];
    }
}
