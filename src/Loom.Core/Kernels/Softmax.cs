using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Loom.Core.Kernels;

/// <summary>Numerically stable softmax.</summary>
public static class Softmax
{
    /// <summary>In place: x = exp(x - max) / sum. The sum runs in double, as ggml's.</summary>
    /// <remarks>
    /// The maximum and the final scaling are vectors; the exponentials stay the C library's (a vector exp would
    /// round differently) and the sum one chain in order, so results equal <see cref="ApplyReference"/> bit for bit.
    /// </remarks>
    public static void Apply(Span<float> x)
    {
        int i = 0, n = x.Length;
        ref float r = ref MemoryMarshal.GetReference(x);
        float max = float.NegativeInfinity;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            // v > m ? v : m lane by lane, as the scalar test keeps the larger and passes over NaN.
            var m = Vector256.Create(float.NegativeInfinity);
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)i);
                m = Vector256.ConditionalSelect(Vector256.GreaterThan(v, m), v, m);
            }
            for (int j = 0; j < 8; j++) if (m[j] > max) max = m[j];
        }
        for (; i < n; i++) if (x[i] > max) max = x[i];
        float inv = Exponentiate(x, max);
        i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var iv = Vector256.Create(inv);
            for (; i + 8 <= n; i += 8) (Vector256.LoadUnsafe(ref r, (nuint)i) * iv).StoreUnsafe(ref r, (nuint)i);
        }
        for (; i < n; i++) x[i] *= inv;
    }

    /// <summary>The scalar form of <see cref="Apply"/>.</summary>
    public static void ApplyReference(Span<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (var v in x) if (v > max) max = v;
        float inv = Exponentiate(x, max);
        for (int i = 0; i < x.Length; i++) x[i] *= inv;
    }

    /// <summary>x = exp(x - max) in place; returns 1 / Σ, the sum in double.</summary>
    private static float Exponentiate(Span<float> x, float max)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float e = x[i] == float.NegativeInfinity ? 0f : MathF.Exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        return (float)(1.0 / sum);
    }

    /// <summary>log(sum(exp(x))), shifted by the maximum and summed in double: the one scalar log-sum-exp (the sampler's vector one is checked against it).</summary>
    public static double LogSumExp(ReadOnlySpan<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (var v in x) if (v > max) max = v;
        double sum = 0;
        foreach (var v in x) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }
}
