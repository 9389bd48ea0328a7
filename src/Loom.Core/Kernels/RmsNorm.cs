using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Loom.Core.Kernels;

/// <summary>RMS normalization: y = x / sqrt(mean(x²) + eps) * w.</summary>
public static class RmsNorm
{
    /// <summary>
    /// Normalizes <paramref name="x"/> into <paramref name="y"/> and multiplies by <paramref name="weight"/>.
    /// The sum of squares runs in double and the scale in float, as ggml computes it, so logits track llama.cpp's.
    /// </summary>
    /// <remarks>
    /// The double sum stays one chain in element order (ggml's order; reassociating it would move results by an ulp);
    /// the products feeding it and the scaling are vectors, equal to <see cref="ApplyReference"/> bit for bit.
    /// </remarks>
    public static void Apply(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps)
    {
        double sum = 0;
        int i = 0, n = x.Length;
        ref float xr = ref MemoryMarshal.GetReference(x);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
                var (lo, hi) = Vector256.Widen(v * v);
                sum = sum + lo[0] + lo[1] + lo[2] + lo[3] + hi[0] + hi[1] + hi[2] + hi[3];
            }
        for (; i < n; i++) sum += (double)(x[i] * x[i]);
        float scale = Scale(sum, n, eps);
        i = 0;
        ref float wr = ref MemoryMarshal.GetReference(weight);
        ref float yr = ref MemoryMarshal.GetReference(y);
        if (Vector256.IsHardwareAccelerated)
        {
            var sv = Vector256.Create(scale);
            for (; i + 8 <= n; i += 8) (Vector256.LoadUnsafe(ref xr, (nuint)i) * sv * Vector256.LoadUnsafe(ref wr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            var sv = Vector128.Create(scale);
            for (; i + 4 <= n; i += 4) (Vector128.LoadUnsafe(ref xr, (nuint)i) * sv * Vector128.LoadUnsafe(ref wr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < n; i++) y[i] = x[i] * scale * weight[i];
    }

    /// <summary>The scalar form of <see cref="Apply"/>.</summary>
    public static void ApplyReference(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += (double)(x[i] * x[i]);
        float scale = Scale(sum, x.Length, eps);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * scale * weight[i];
    }

    private static float Scale(double sum, int n, float eps) => 1.0f / MathF.Sqrt((float)(sum / n) + eps);
}
