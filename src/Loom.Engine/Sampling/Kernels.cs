using System.Numerics;
using System.Runtime.CompilerServices;

namespace Loom.Engine.Sampling;

/// <summary>
/// Vectorised full-vocabulary passes for the sampler and logprobs, each with the plain loop it must agree with.
/// </summary>
internal static class Kernels
{
    /// <summary>
    /// x[i] /= divisor. Division, not multiplication by the reciprocal, so results match the scalar rule exactly.
    /// A finite logit that overflows saturates at ±<see cref="float.MaxValue"/>: only a logit that was already
    /// infinite may become one (see the sampler's NaN/∞ rule).
    /// </summary>
    public static void Divide(Span<float> x, float divisor)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var d = new Vector<float>(divisor);
            var inf = new Vector<float>(float.PositiveInfinity);
            var max = new Vector<float>(float.MaxValue);
            for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var v = new Vector<float>(x[i..]);
                var q = v / d;
                var overflow = Vector.Equals(Vector.Abs(q), inf) & ~Vector.Equals(Vector.Abs(v), inf);
                if (overflow != Vector<int>.Zero)
                    q = Vector.ConditionalSelect(overflow, Vector.ConditionalSelect(Vector.LessThan(q, Vector<float>.Zero), -max, max), q);
                q.CopyTo(x[i..]);
            }
        }
        for (; i < x.Length; i++) x[i] = Saturate(x[i] / divisor, x[i]);
    }

    /// <summary><paramref name="result"/>, or ±float.MaxValue when it overflowed from the finite <paramref name="operand"/>.</summary>
    public static float Saturate(float result, float operand) =>
        float.IsInfinity(result) && float.IsFinite(operand) ? (result > 0 ? float.MaxValue : -float.MaxValue) : result;

    /// <summary>
    /// Applies the sampler's rule for non-finite logits in place: NaN becomes negative infinity (excluded); when any
    /// logit is positive infinity, those become 0 and every other logit negative infinity, so the infinite tokens
    /// share all the probability equally. A row without NaN or +∞, the usual case, is only read, in one vector pass.
    /// </summary>
    public static void Sanitize(Span<float> x)
    {
        if (!HasNaNOrPositiveInfinity(x)) return;
        var positiveInfinity = false;
        foreach (ref var v in x)
        {
            if (float.IsNaN(v)) v = float.NegativeInfinity;
            else if (float.IsPositiveInfinity(v)) positiveInfinity = true;
        }
        if (!positiveInfinity) return;
        foreach (ref var v in x) v = float.IsPositiveInfinity(v) ? 0f : float.NegativeInfinity;
    }

    public static bool HasNaNOrPositiveInfinity(ReadOnlySpan<float> x)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var inf = new Vector<float>(float.PositiveInfinity);
            var bad = Vector<int>.Zero;
            for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var v = new Vector<float>(x[i..]);
                bad |= ~Vector.Equals(v, v) | Vector.Equals(v, inf);
            }
            if (bad != Vector<int>.Zero) return true;
        }
        for (; i < x.Length; i++)
            if (float.IsNaN(x[i]) || float.IsPositiveInfinity(x[i])) return true;
        return false;
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
    public static double ExpShiftedSum(ReadOnlySpan<float> x, float shift, Span<float> dst) => ExpShiftedSum(x, shift, dst, store: true);

    public static double ExpShiftedSumReference(ReadOnlySpan<float> x, float shift, Span<float> dst)
    {
        double sum = 0;
        for (var i = 0; i < x.Length; i++) sum += dst[i] = MathF.Exp(x[i] - shift);
        return sum;
    }

    /// <summary>sum(exp(x[i] - shift)) in double, without storing the terms.</summary>
    public static double ExpShiftedSumNoStore(ReadOnlySpan<float> x, float shift) => ExpShiftedSum(x, shift, default, store: false);

    /// <summary>Both public forms: inlined with a constant <paramref name="store"/>, so the no-store one writes nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double ExpShiftedSum(ReadOnlySpan<float> x, float shift, Span<float> dst, bool store)
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
                if (store) e.CopyTo(dst[i..]);
                Vector.Widen(e, out var lo, out var hi);
                acc += lo + hi;
            }
            sum = Vector.Sum(acc);
        }
        for (; i < x.Length; i++)
        {
            float e = MathF.Exp(x[i] - shift);
            if (store) dst[i] = e;
            sum += e;
        }
        return sum;
    }
}
