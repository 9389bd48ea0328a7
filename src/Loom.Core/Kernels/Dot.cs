using System.Runtime.InteropServices;

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
        if (!Vector512.IsHardwareAccelerated && Vector256.IsHardwareAccelerated) { F32Gemm4Halves(w, x, xStride, n, r, rStride); return; }
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

    /// <summary>
    /// <see cref="F32Gemm4"/> with each 16-lane chain held as two 256-bit halves (lanes 0–7, 8–15): the same numbers,
    /// since every lane is its own chain and <see cref="ReduceAdd(Vector256{float}, Vector256{float})"/> folds the halves
    /// as the 512-bit tree does. Where 512-bit vectors are emulated, the JIT keeps four 512-bit accumulators in memory.
    /// </summary>
    private static unsafe void F32Gemm4Halves(float* w, float* x, nint xStride, int n, float* r, nint rStride)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        float* x1 = x + xStride, x2 = x + 2 * xStride, x3 = x + 3 * xStride;
        for (int i = 0; i < n; i += 16)
        {
            var lo = Vector256.Load(w + i);
            var hi = Vector256.Load(w + i + 8);
            a0 = Vector256.FusedMultiplyAdd(lo, Vector256.Load(x + i), a0); b0 = Vector256.FusedMultiplyAdd(hi, Vector256.Load(x + i + 8), b0);
            a1 = Vector256.FusedMultiplyAdd(lo, Vector256.Load(x1 + i), a1); b1 = Vector256.FusedMultiplyAdd(hi, Vector256.Load(x1 + i + 8), b1);
            a2 = Vector256.FusedMultiplyAdd(lo, Vector256.Load(x2 + i), a2); b2 = Vector256.FusedMultiplyAdd(hi, Vector256.Load(x2 + i + 8), b2);
            a3 = Vector256.FusedMultiplyAdd(lo, Vector256.Load(x3 + i), a3); b3 = Vector256.FusedMultiplyAdd(hi, Vector256.Load(x3 + i + 8), b3);
        }
        r[0] = ReduceAdd(a0, b0); r[rStride] = ReduceAdd(a1, b1); r[2 * rStride] = ReduceAdd(a2, b2); r[3 * rStride] = ReduceAdd(a3, b3);
    }

    /// <summary>
    /// A 3-row × 4-token tile of GEMM-order dots (each the same number as <see cref="F32"/>'s 16-lane chain and
    /// <see cref="ReduceAdd(Vector512{float})"/>), for 256-bit hardware. Lanes 0–7 and 8–15 of every chain are independent,
    /// so within a slice of <see cref="TileSlice"/> elements the low halves are summed in one pass and the high halves in
    /// a second, each pass holding twelve 8-lane accumulators in registers: seven loads feed twelve FMAs. The slice keeps
    /// both passes in L1 (without it the second pass refetches every line from L2, which caps the kernel at half speed).
    /// y[t·yStride + r] for rows r &lt; 3, tokens t &lt; 4.
    /// </summary>
    public static unsafe void F32GemmTile3x4(float* w0, float* w1, float* w2, float* x, nint xStride, int n, float* y, nint yStride)
    {
        var acc = stackalloc Vector256<float>[24];
        for (int j = 0; j < 24; j++) acc[j] = default;
        float* x1 = x + xStride, x2 = x + 2 * xStride, x3 = x + 3 * xStride;
        for (int s0 = 0; s0 < n; s0 += TileSlice)
        {
            int s1 = Math.Min(n, s0 + TileSlice);
            for (int half = 0; half < 2; half++)
            {
                var a = acc + 12 * half;
                Vector256<float> a00 = a[0], a01 = a[1], a02 = a[2], a03 = a[3], a10 = a[4], a11 = a[5];
                Vector256<float> a12 = a[6], a13 = a[7], a20 = a[8], a21 = a[9], a22 = a[10], a23 = a[11];
                for (int i = s0 + 8 * half; i < s1; i += 16)
                {
                    var p = Vector256.Load(w0 + i); var q = Vector256.Load(w1 + i); var u = Vector256.Load(w2 + i);
                    var v = Vector256.Load(x + i);
                    a00 = Vector256.FusedMultiplyAdd(p, v, a00); a10 = Vector256.FusedMultiplyAdd(q, v, a10); a20 = Vector256.FusedMultiplyAdd(u, v, a20);
                    v = Vector256.Load(x1 + i);
                    a01 = Vector256.FusedMultiplyAdd(p, v, a01); a11 = Vector256.FusedMultiplyAdd(q, v, a11); a21 = Vector256.FusedMultiplyAdd(u, v, a21);
                    v = Vector256.Load(x2 + i);
                    a02 = Vector256.FusedMultiplyAdd(p, v, a02); a12 = Vector256.FusedMultiplyAdd(q, v, a12); a22 = Vector256.FusedMultiplyAdd(u, v, a22);
                    v = Vector256.Load(x3 + i);
                    a03 = Vector256.FusedMultiplyAdd(p, v, a03); a13 = Vector256.FusedMultiplyAdd(q, v, a13); a23 = Vector256.FusedMultiplyAdd(u, v, a23);
                }
                a[0] = a00; a[1] = a01; a[2] = a02; a[3] = a03; a[4] = a10; a[5] = a11;
                a[6] = a12; a[7] = a13; a[8] = a20; a[9] = a21; a[10] = a22; a[11] = a23;
            }
        }
        for (int r = 0; r < 3; r++)
            for (int t = 0; t < 4; t++)
                y[t * yStride + r] = ReduceAdd(acc[4 * r + t], acc[12 + 4 * r + t]);
    }

    /// <summary>Elements per slice of <see cref="F32GemmTile3x4"/>: 3 rows + 4 tokens × 2 KiB = 14 KiB, well inside L1.</summary>
    private const int TileSlice = 512;

    /// <summary><see cref="ReduceAdd(Vector512{float})"/> of the 16 lanes [lo | hi].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ReduceAdd(Vector256<float> lo, Vector256<float> hi)
    {
        var t3 = hi + lo;
        var t6 = t3.GetUpper() + t3.GetLower();
        float a = t6[0] + t6[2], b = t6[1] + t6[3];
        return a + b;
    }

    /// <summary>Eight halves' bits sign-extended to i32 lanes (vpmovsxwd), the input of <see cref="HalfBits8"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<int> SignExtend8(short* p) => System.Runtime.Intrinsics.X86.Avx2.IsSupported
        ? System.Runtime.Intrinsics.X86.Avx2.ConvertToVector256Int32(p)
        : Vector256.WidenLower(Vector256.Create(Vector128.Load(p), Vector128<short>.Zero));

    /// <summary>
    /// Sign-extended halves as floats worth their value × 2^−112: shifted under the float's exponent and mantissa,
    /// the sign's copies in bits 28–30 cleared. Exact for every finite half, subnormals included; Inf and NaN come
    /// out finite (<see cref="Widen8"/> restores them). Two operations for eight values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> HalfBits8(Vector256<int> h) =>
        (Vector256.ShiftLeft(h, 13) & Vector256.Create(unchecked((int)0x8FFFFFFF))).AsSingle();

    /// <summary><see cref="HalfBits8"/> four lanes wide (ARM64, where 256-bit vectors are emulated).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> HalfBits4(Vector128<int> h) =>
        (Vector128.ShiftLeft(h, 13) & Vector128.Create(unchecked((int)0x8FFFFFFF))).AsSingle();

    /// <summary><see cref="HalfBits8"/> sixteen lanes wide.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> HalfBits16(Vector512<int> h) =>
        (Vector512.ShiftLeft(h, 13) & Vector512.Create(unchecked((int)0x8FFFFFFF))).AsSingle();

    /// <summary>Eight finite halves to floats, exactly: <see cref="HalfBits8"/> rescaled by 2^112.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<float> WidenFinite8(short* p) => HalfBits8(SignExtend8(p)) * Vector256.Create(Pow2To112);

    /// <summary>
    /// Eight halves to floats, exactly: <see cref="WidenFinite8"/>, with Inf and NaN given the all-ones exponent back.
    /// Eight operations for eight values, where the 512-bit <see cref="Widen"/> emulated on 256-bit hardware costs
    /// about twice that.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<float> Widen8(ushort* p)
    {
        var h = SignExtend8((short*)p);
        var scaled = HalfBits8(h) * Vector256.Create(Pow2To112);
        var special = Vector256.Equals(h & Vector256.Create(0x7C00), Vector256.Create(0x7C00)) & Vector256.Create(0x7F800000);
        return (scaled.AsInt32() | special).AsSingle();
    }

    /// <summary>Σ w[i]·x[i] with f16 weights widened to float.</summary>
    public static float F16F32(ReadOnlySpan<Half> w, ReadOnlySpan<float> x)
    {
        int n = w.Length;
        if (n % 16 == 0 && !Vector512.IsHardwareAccelerated && Vector256.IsHardwareAccelerated) return F16F32Halves(w, x);
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

    /// <summary>
    /// Whether <see cref="F16F32Prescaled"/> applies here: 256-bit vectors or wider. Decode is memory-bound only once
    /// the widening is this cheap: <see cref="F16F32"/>'s exact one ran at half the bandwidth limit even with 512-bit
    /// vectors (AVX-512 Ice Lake, 2 threads).
    /// </summary>
    public static bool PrescaledF16 => Vector256.IsHardwareAccelerated;

    /// <summary>Activations are prescaled by this (2^112) for <see cref="F16F32Prescaled"/>.</summary>
    public static float F16Prescale => Pow2To112;

    /// <summary>
    /// The same number as <see cref="F16F32"/> for weights without Inf or NaN, given <paramref name="xScaled"/> =
    /// x·2^112 (exact while |x| &lt; 65536). A half's bits shifted under a float's exponent and mantissa are its value
    /// times 2^−112 exactly, subnormals included, so w'·x' is the same product as w·x and every FMA rounds alike;
    /// the rescale by 2^112 and the Inf/NaN fix-up drop out of the loop: three operations widen eight weights.
    /// </summary>
    public static unsafe float F16F32Prescaled(ReadOnlySpan<Half> w, float* xScaled)
    {
        int n = w.Length;
        fixed (Half* wp = w)
        {
            short* h = (short*)wp;
            if (Vector512.IsHardwareAccelerated)
            {
                // The same 16-lane chain in one register.
                var acc = Vector512<float>.Zero;
                for (int i = 0; i < n; i += 16)
                {
                    if ((i & 31) == 0) Quantized.TileMath.Prefetch((byte*)(h + i), Quantized.TileMath.StreamAhead, 64);
                    acc = Vector512.FusedMultiplyAdd(HalfBits16(h + i), Vector512.Load(xScaled + i), acc);
                }
                return ReduceAdd(acc);
            }
            Vector256<float> lo = default, hi = default;
            for (int i = 0; i < n; i += 16)
            {
                // A decode streams each row once: one line every other step, ahead into the next rows.
                if ((i & 31) == 0) Quantized.TileMath.Prefetch((byte*)(h + i), Quantized.TileMath.StreamAhead, 64);
                var a = HalfBits8(SignExtend8(h + i));
                var b = HalfBits8(SignExtend8(h + i + 8));
                lo = Vector256.FusedMultiplyAdd(a, Vector256.Load(xScaled + i), lo);
                hi = Vector256.FusedMultiplyAdd(b, Vector256.Load(xScaled + i + 8), hi);
            }
            return ReduceAdd(lo, hi);
        }
    }

    /// <summary>
    /// <see cref="F16F32Prescaled"/> of four rows <paramref name="rowHalves"/> apart against the same activations,
    /// into <paramref name="y"/>[0..3]: the same four numbers, with each activation vector loaded once for the four
    /// rows and four rows' streams in flight at once (F16 decode on an AVX-512 Ice Lake, 2 threads: about 8.6 tok/s
    /// where one row at a time made 7.2).
    /// </summary>
    public static unsafe void F16F32Prescaled4(Half* w, nint rowHalves, int n, float* xScaled, float* y)
    {
        short* h0 = (short*)w, h1 = h0 + rowHalves, h2 = h1 + rowHalves, h3 = h2 + rowHalves;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < n; i += 16)
            {
                if ((i & 31) == 0) PrefetchRows4(h0 + i, rowHalves);
                var x = Vector512.Load(xScaled + i);
                a0 = Vector512.FusedMultiplyAdd(HalfBits16(h0 + i), x, a0);
                a1 = Vector512.FusedMultiplyAdd(HalfBits16(h1 + i), x, a1);
                a2 = Vector512.FusedMultiplyAdd(HalfBits16(h2 + i), x, a2);
                a3 = Vector512.FusedMultiplyAdd(HalfBits16(h3 + i), x, a3);
            }
            y[0] = ReduceAdd(a0); y[1] = ReduceAdd(a1); y[2] = ReduceAdd(a2); y[3] = ReduceAdd(a3);
            return;
        }
        Vector256<float> l0 = default, u0 = default, l1 = default, u1 = default, l2 = default, u2 = default, l3 = default, u3 = default;
        for (int i = 0; i < n; i += 16)
        {
            if ((i & 31) == 0) PrefetchRows4(h0 + i, rowHalves);
            var xl = Vector256.Load(xScaled + i);
            var xu = Vector256.Load(xScaled + i + 8);
            l0 = Vector256.FusedMultiplyAdd(HalfBits8(SignExtend8(h0 + i)), xl, l0); u0 = Vector256.FusedMultiplyAdd(HalfBits8(SignExtend8(h0 + i + 8)), xu, u0);
            l1 = Vector256.FusedMultiplyAdd(HalfBits8(SignExtend8(h1 + i)), xl, l1); u1 = Vector256.FusedMultiplyAdd(HalfBits8(SignExtend8(h1 + i + 8)), xu, u1);
            l2 = Vector256.FusedMultiplyAdd(HalfBits8(SignExtend8(h2 + i)), xl, l2); u2 = Vector256.FusedMultiplyAdd(HalfBits8(SignExtend8(h2 + i + 8)), xu, u2);
            l3 = Vector256.FusedMultiplyAdd(HalfBits8(SignExtend8(h3 + i)), xl, l3); u3 = Vector256.FusedMultiplyAdd(HalfBits8(SignExtend8(h3 + i + 8)), xu, u3);
        }
        y[0] = ReduceAdd(l0, u0); y[1] = ReduceAdd(l1, u1); y[2] = ReduceAdd(l2, u2); y[3] = ReduceAdd(l3, u3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchRows4(short* p, nint rowHalves)
    {
        Quantized.TileMath.Prefetch((byte*)p, Quantized.TileMath.StreamAhead, 64);
        Quantized.TileMath.Prefetch((byte*)(p + rowHalves), Quantized.TileMath.StreamAhead, 64);
        Quantized.TileMath.Prefetch((byte*)(p + 2 * rowHalves), Quantized.TileMath.StreamAhead, 64);
        Quantized.TileMath.Prefetch((byte*)(p + 3 * rowHalves), Quantized.TileMath.StreamAhead, 64);
    }

    /// <summary><see cref="HalfBits16(Vector512{int})"/> of the sixteen halves at <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<float> HalfBits16(short* p) => HalfBits16(Vector512.WidenLower(Vector256.Load(p).ToVector512Unsafe()));

    /// <summary>Whether an f16 tensor holds no Inf or NaN (all exponent bits set), scanned in parallel at load.</summary>
    public static unsafe bool AllFiniteF16(Core.Tensors.WeightTensor t)
    {
        long n = t.ByteSize / 2;
        int chunks = (int)Math.Max(1, Math.Min(256, n / 65536));
        int bad = 0;
        Threading.ComputePool.Shared.For(chunks, t.ByteSize / chunks, (t, n, chunks), (s, start, end) =>
        {
            var (t, n, chunks) = s;
            ushort* p = (ushort*)t.Data;
            long from = n * start / chunks, to = n * end / chunks;
            var exp = Vector256.Create((ushort)0x7C00);
            var any = Vector256<ushort>.Zero;
            long i = from;
            for (; i + 16 <= to; i += 16) any |= Vector256.Equals(Vector256.Load(p + i) & exp, exp);
            bool found = any != Vector256<ushort>.Zero;
            for (; i < to; i++) found |= (p[i] & 0x7C00) == 0x7C00;
            if (found) Volatile.Write(ref bad, 1);
        });
        return bad == 0;
    }

    /// <summary><see cref="F16F32"/>'s 16-lane chain as two 256-bit halves (see <see cref="F32Gemm4Halves"/>).</summary>
    private static unsafe float F16F32Halves(ReadOnlySpan<Half> w, ReadOnlySpan<float> x)
    {
        int n = w.Length;
        fixed (Half* wp = w)
        fixed (float* xp = x)
        {
            ushort* h = (ushort*)wp;
            Vector256<float> lo = default, hi = default;
            for (int i = 0; i < n; i += 16)
            {
                lo = Vector256.FusedMultiplyAdd(Widen8(h + i), Vector256.Load(xp + i), lo);
                hi = Vector256.FusedMultiplyAdd(Widen8(h + i + 8), Vector256.Load(xp + i + 8), hi);
            }
            return ReduceAdd(lo, hi);
        }
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

    /// <summary>
    /// <see cref="ReduceAdd(Vector512{float})"/>'s tree applied lane by lane to sixteen vectors <paramref name="stride"/>
    /// floats apart (vector m holding lane m's partial sums of sixteen separate chains): lanes l and l+8, then l and
    /// l+4, then (0+2) + (1+3).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<float> ReduceAddColumns(float* p, int stride)
    {
        var t0 = Vector512.Load(p + 8 * stride) + Vector512.Load(p);
        var t1 = Vector512.Load(p + 9 * stride) + Vector512.Load(p + stride);
        var t2 = Vector512.Load(p + 10 * stride) + Vector512.Load(p + 2 * stride);
        var t3 = Vector512.Load(p + 11 * stride) + Vector512.Load(p + 3 * stride);
        var t4 = Vector512.Load(p + 12 * stride) + Vector512.Load(p + 4 * stride);
        var t5 = Vector512.Load(p + 13 * stride) + Vector512.Load(p + 5 * stride);
        var t6 = Vector512.Load(p + 14 * stride) + Vector512.Load(p + 6 * stride);
        var t7 = Vector512.Load(p + 15 * stride) + Vector512.Load(p + 7 * stride);
        var u0 = t4 + t0; var u1 = t5 + t1; var u2 = t6 + t2; var u3 = t7 + t3;
        return (u0 + u2) + (u1 + u3);
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
