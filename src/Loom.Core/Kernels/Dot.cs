using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Loom.Core.Kernels;

/// <summary>
/// Float dot products summed in the same order as llama.cpp's x86 AVX-512 build, so that the tiny rounding
/// differences of reordered sums (which small models amplify into visible logit changes) do not arise:
/// lengths divisible by 16 use one chain of 16 fused multiply-add lanes and GCC's
/// <c>_mm512_reduce_add_ps</c> tree (tinyBLAS, which llama.cpp uses for multi-token matmuls); single-token
/// matmuls and other lengths use ggml_vec_dot's four 16-lane chains over 64-element steps with the tail
/// summed in double. <see cref="Reference"/> is the plain double-precision sum.
/// </summary>
public static class Dot
{
    /// <summary>Σ x[i]·y[i] in double, the obviously-correct reference.</summary>
    public static double Reference(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += (double)x[i] * y[i];
        return s;
    }

    /// <summary>
    /// Σ x[i]·y[i] over float vectors of equal length. <paramref name="gemm"/>: summed as a multi-token GEMM
    /// (prefill) sums it, rather than as a single-token GEMV (decode) does.
    /// </summary>
    public static float F32(ReadOnlySpan<float> x, ReadOnlySpan<float> y, bool gemm = true)
    {
        int n = x.Length;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        if (gemm && n % 16 == 0)
        {
            var acc = Vector512<float>.Zero;
            for (int i = 0; i < n; i += 16)
                acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i), Vector512.LoadUnsafe(ref yr, (nuint)i), acc);
            return ReduceAdd(acc);
        }
        int np = n & ~63;
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (int i = 0; i < np; i += 64)
        {
            s0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i), Vector512.LoadUnsafe(ref yr, (nuint)i), s0);
            s1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)(i + 16)), Vector512.LoadUnsafe(ref yr, (nuint)(i + 16)), s1);
            s2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)(i + 32)), Vector512.LoadUnsafe(ref yr, (nuint)(i + 32)), s2);
            s3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)(i + 48)), Vector512.LoadUnsafe(ref yr, (nuint)(i + 48)), s3);
        }
        double sum = np == 0 ? 0 : ReduceAdd((s0 + s2) + (s1 + s3));
        for (int i = np; i < n; i++) sum += x[i] * y[i];
        return (float)sum;
    }

    /// <summary>
    /// Four dots of one float row <paramref name="w"/> (length <paramref name="n"/>, a multiple of 16) with four
    /// activation rows <paramref name="xStride"/> floats apart, each summed exactly as <see cref="F32"/> sums it in
    /// GEMM order (one 16-lane FMA chain, then <see cref="ReduceAdd"/>): the row is loaded once for the four.
    /// </summary>
    public static unsafe void F32Gemm4(float* w, float* x, nint xStride, int n, float* r, nint rStride)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        float* x1 = x + xStride, x2 = x + 2 * xStride, x3 = x + 3 * xStride;
        for (int i = 0; i < n; i += 16)
        {
            var wv = Vector512.Load(w + i);
            a0 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x + i), a0);
            a1 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x1 + i), a1);
            a2 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x2 + i), a2);
            a3 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x3 + i), a3);
        }
        r[0] = ReduceAdd(a0); r[rStride] = ReduceAdd(a1); r[2 * rStride] = ReduceAdd(a2); r[3 * rStride] = ReduceAdd(a3);
    }

    /// <summary>Σ w[i]·x[i] with f16 weights widened to float.</summary>
    public static float F16F32(ReadOnlySpan<Half> w, ReadOnlySpan<float> x)
    {
        int n = w.Length;
        if (n % 16 == 0)
        {
            ref Half wr = ref MemoryMarshal.GetReference(w);
            ref float xr = ref MemoryMarshal.GetReference(x);
            var acc = Vector512<float>.Zero;
            for (int i = 0; i < n; i += 16)
                acc = Vector512.FusedMultiplyAdd(Widen(ref Unsafe.Add(ref wr, i)), Vector512.LoadUnsafe(ref xr, (nuint)i), acc);
            return ReduceAdd(acc);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) sum += (float)w[i] * x[i];
        return (float)sum;
    }

    /// <summary>Σ a[i]·b[i] over two f16 vectors (attention scores against the f16 K cache).</summary>
    public static float F16F16(ReadOnlySpan<Half> a, ReadOnlySpan<Half> b, bool gemm = true)
    {
        int n = a.Length;
        ref Half ar = ref MemoryMarshal.GetReference(a);
        ref Half br = ref MemoryMarshal.GetReference(b);
        if (gemm && n % 16 == 0)
        {
            var acc = Vector512<float>.Zero;
            for (int i = 0; i < n; i += 16)
                acc = Vector512.FusedMultiplyAdd(Widen(ref Unsafe.Add(ref ar, i)), Widen(ref Unsafe.Add(ref br, i)), acc);
            return ReduceAdd(acc);
        }
        int np = n & ~63;
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (int i = 0; i < np; i += 64)
        {
            s0 = Vector512.FusedMultiplyAdd(Widen(ref Unsafe.Add(ref ar, i)), Widen(ref Unsafe.Add(ref br, i)), s0);
            s1 = Vector512.FusedMultiplyAdd(Widen(ref Unsafe.Add(ref ar, i + 16)), Widen(ref Unsafe.Add(ref br, i + 16)), s1);
            s2 = Vector512.FusedMultiplyAdd(Widen(ref Unsafe.Add(ref ar, i + 32)), Widen(ref Unsafe.Add(ref br, i + 32)), s2);
            s3 = Vector512.FusedMultiplyAdd(Widen(ref Unsafe.Add(ref ar, i + 48)), Widen(ref Unsafe.Add(ref br, i + 48)), s3);
        }
        double sum = np == 0 ? 0 : ReduceAdd((s0 + s2) + (s1 + s3));
        for (int i = np; i < n; i++) sum += (float)a[i] * (float)b[i];
        return (float)sum;
    }

    /// <summary>The 16 lanes summed in GCC's <c>_mm512_reduce_add_ps</c> order: halves, quarters, then pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ReduceAdd(Vector512<float> v)
    {
        var t3 = v.GetUpper() + v.GetLower();
        var t6 = t3.GetUpper() + t3.GetLower();
        float a = t6[0] + t6[2], b = t6[1] + t6[3];
        return a + b;
    }

    /// <summary>16 halves to floats, exactly (Half → float is exact, so this matches any other widening).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Widen(ref Half h)
    {
        var bits = Vector512.WidenLower(Vector512.Create(Vector256.LoadUnsafe(ref Unsafe.As<Half, ushort>(ref h)), Vector256<ushort>.Zero));
        // Exponent and mantissa shifted into a float and scaled by 2^112 re-bias exactly (subnormals included);
        // inf and NaN get the float's all-ones exponent back.
        var magnitude = (Vector512.ShiftLeft(bits & Vector512.Create(0x7FFFu), 13).AsSingle() * Vector512.Create(Pow2To112)).AsUInt32();
        var special = Vector512.Equals(bits & Vector512.Create(0x7C00u), Vector512.Create(0x7C00u)) & Vector512.Create(0x7F800000u);
        return (magnitude | special | Vector512.ShiftLeft(bits & Vector512.Create(0x8000u), 16)).AsSingle();
    }

    private static readonly float Pow2To112 = BitConverter.UInt32BitsToSingle((127 + 112) << 23);
}
