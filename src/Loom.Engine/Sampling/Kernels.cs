using System.Numerics;

namespace Loom.Engine.Sampling;

/// <summary>
/// Vectorised full-vocabulary passes for the sampler and logprobs, each with the plain loop it must agree with.
/// </summary>
internal static class Kernels
{
    /// <summary>x[i] /= divisor. Division, not multiplication by the reciprocal, so results match the scalar rule exactly.</summary>
    public static void Divide(Span<float> x, float divisor)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var d = new Vector<float>(divisor);
            for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
                (new Vector<float>(x[i..]) / d).CopyTo(x[i..]);
        }
        for (; i < x.Length; i++) x[i] /= divisor;
    }

    /// <summary>Largest element (NaN not supported).</summary>
    public static float Max(ReadOnlySpan<float> x)
    {
        var i = 0;
        var max = float.NegativeInfinity;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var m = new Vector<float>(float.NegativeInfinity);
            for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
                m = Vector.Max(m, new Vector<float>(x[i..]));
            for (var k = 0; k < Vector<float>.Count; k++) max = MathF.Max(max, m[k]);
        }
        for (; i < x.Length; i++) max = MathF.Max(max, x[i]);
        return max;
    }

    public static float MaxReference(ReadOnlySpan<float> x)
    {
        var max = float.NegativeInfinity;
        foreach (var v in x) if (v > max) max = v;
        return max;
    }

    /// <summary>dst[i] = exp(x[i] - shift); returns the sum, accumulated in double.</summary>
    public static double ExpShiftedSum(ReadOnlySpan<float> x, float shift, Span<float> dst)
    {
        var i = 0;
        double sum = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var s = new Vector<float>(shift);
            var acc = Vector<double>.Zero;
            for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var e = Vector.Exp(new Vector<float>(x[i..]) - s);
                e.CopyTo(dst[i..]);
                Vector.Widen(e, out var lo, out var hi);
                acc += lo + hi;
            }
            sum = Vector.Sum(acc);
        }
        for (; i < x.Length; i++) sum += dst[i] = MathF.Exp(x[i] - shift);
        return sum;
    }

    public static double ExpShiftedSumReference(ReadOnlySpan<float> x, float shift, Span<float> dst)
    {
        double sum = 0;
        for (var i = 0; i < x.Length; i++) sum += dst[i] = MathF.Exp(x[i] - shift);
        return sum;
    }

    /// <summary>sum(exp(x[i] - shift)) in double, without storing the terms.</summary>
    public static double ExpShiftedSumNoStore(ReadOnlySpan<float> x, float shift)
    {
        var i = 0;
        double sum = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var s = new Vector<float>(shift);
            var acc = Vector<double>.Zero;
            for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector.Widen(Vector.Exp(new Vector<float>(x[i..]) - s), out var lo, out var hi);
                acc += lo + hi;
            }
            sum = Vector.Sum(acc);
        }
        for (; i < x.Length; i++) sum += MathF.Exp(x[i] - shift);
        return sum;
    }
}
