using System.Runtime.CompilerServices;

namespace Loom.Core.Kernels;

/// <summary>
/// Multi-token products of f16 weight rows (widened to floats) with 16 tokens at a time on 256-bit hardware, 32 on
/// 512-bit: the same numbers as <see cref="Dot.F16F32"/>, so prefill and decode, and any split of the batch, agree
/// bit for bit.
/// </summary>
/// <remarks>
/// <para>Why a second kernel: the dot-form tile (<see cref="Dot.F32GemmTile3x4"/>) keeps each output's 16 lanes
/// in registers, so it holds only twelve outputs and streams seven rows through L1 for them; it reaches about half
/// of the FMA peak. Here the tokens sit in the lanes (two vectors of eight) and a weight is broadcast, so twelve
/// accumulators cover 6 rows × 16 tokens, and per step two loads of activations and six broadcasts feed twelve FMAs.
/// With 512-bit vectors the same twelve cover 6 rows × 32 tokens: twice the work per load, where 6 rows × 16 tokens
/// would leave too few chains to hide the FMA latency (F16 pp512 on a 2-core AVX-512 Ice Lake: 40 tok/s with the
/// 256-bit body, 43–48 with this one).</para>
/// <para>Why it is exact: <see cref="Dot.F32"/>'s GEMM order is one 16-lane FMA chain, lane j summing w[i]·x[i] for
/// i ≡ j (mod 16) in order, then <see cref="Dot.ReduceAdd(Vector512{float})"/>'s tree over the lanes. This kernel runs
/// those sixteen chains one after another (residue by residue, each a chain of FMAs whose lanes are tokens), keeps
/// each chain's partial sums between k-slices, and applies the same tree lane-wise at the end.</para>
/// </remarks>
public static unsafe class F16Gemm
{
    /// <summary>Weight rows per tile.</summary>
    public const int Rows = 6;

    /// <summary>Tokens per tile (the lanes of two vectors).</summary>
    public static int Tokens => Vector512.IsHardwareAccelerated ? 32 : 16;

    /// <summary>Longest row it takes: six widened rows live on the caller's stack.</summary>
    public const int MaxK = 8192;

    /// <summary>Elements per k-slice: six row slices (12 KiB) stay in L1 while the activations stream past them.</summary>
    private const int Slice = 512;

    /// <summary>Floats of accumulator scratch <see cref="Tile"/> takes: twelve vectors per residue.</summary>
    public static int AccumulatorFloats => 16 * Rows * Tokens;

    /// <summary>Whether this kernel serves rows of <paramref name="k"/> weights here.</summary>
    public static bool Applies(int k) =>
        Vector256.IsHardwareAccelerated && Fma.IsSupported && k % 16 == 0 && k <= MaxK;

    /// <summary>Bytes of one packed block of <see cref="Tokens"/> tokens.</summary>
    public static long BlockBytes(int k) => (long)k * Tokens * sizeof(float);

    /// <summary>
    /// Packs <paramref name="count"/> (≤ <see cref="Tokens"/>) activation rows <paramref name="xStride"/> floats apart into
    /// <paramref name="xp"/>: <see cref="Tokens"/> floats (one per token, zeros for the missing ones, whose lanes are computed and
    /// never stored) per element, and within each k-slice the elements in residue order (i ≡ 0 mod 16 first, then 1, …),
    /// so that each of <see cref="Tile"/>'s chains reads its activations as one sequential stream.
    /// </summary>
    public static void Pack(float* x, nint xStride, int count, int k, float* xp)
    {
        for (int s0 = 0; s0 < k; s0 += Slice)
        {
            int steps = Math.Min(Slice, k - s0) / 16;
            for (int t = 0; t < Tokens; t++)
            {
                float* row = x + t * xStride + s0;
                float* dst = xp + (long)s0 * Tokens + t;
                for (int m = 0; m < steps; m++)
                    for (int j = 0; j < 16; j++)
                        dst[(j * steps + m) * Tokens] = t < count ? row[16 * m + j] : 0f;
            }
        }
    }

    /// <summary>
    /// y[t·<paramref name="yStride"/> + r] for rows r &lt; <see cref="Rows"/> of <paramref name="w"/> (floats,
    /// <paramref name="k"/> apart) and tokens t &lt; <paramref name="count"/> of the packed block <paramref name="xp"/>.
    /// <paramref name="acc"/> is <see cref="AccumulatorFloats"/> of scratch.
    /// </summary>
    public static void Tile(float* w, int k, float* xp, int count, float* y, nint yStride, float* acc)
    {
        if (Vector512.IsHardwareAccelerated) { Tile512(w, k, xp, count, y, yStride, acc); return; }
        float* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k, w4 = w + 4 * k, w5 = w + 5 * k;
        for (int s0 = 0; s0 < k; s0 += Slice)
        {
            int s1 = Math.Min(k, s0 + Slice);
            for (int j = 0; j < 16; j++)
            {
                float* a = acc + j * 96;
                Vector256<float> a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51;
                if (s0 == 0)
                    a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = a40 = a41 = a50 = a51 = Vector256<float>.Zero;
                else
                {
                    a00 = Vector256.Load(a); a01 = Vector256.Load(a + 8); a10 = Vector256.Load(a + 16); a11 = Vector256.Load(a + 24);
                    a20 = Vector256.Load(a + 32); a21 = Vector256.Load(a + 40); a30 = Vector256.Load(a + 48); a31 = Vector256.Load(a + 56);
                    a40 = Vector256.Load(a + 64); a41 = Vector256.Load(a + 72); a50 = Vector256.Load(a + 80); a51 = Vector256.Load(a + 88);
                }
                float* px = xp + (long)(s0 + j * ((s1 - s0) / 16)) * Tokens;
                for (int i = s0 + j; i < s1; i += 16, px += Tokens)
                {
                    var x0 = Vector256.Load(px);
                    var x1 = Vector256.Load(px + 8);
                    var b = Vector256.Create(w[i]);
                    a00 = Vector256.FusedMultiplyAdd(b, x0, a00); a01 = Vector256.FusedMultiplyAdd(b, x1, a01);
                    b = Vector256.Create(w1[i]);
                    a10 = Vector256.FusedMultiplyAdd(b, x0, a10); a11 = Vector256.FusedMultiplyAdd(b, x1, a11);
                    b = Vector256.Create(w2[i]);
                    a20 = Vector256.FusedMultiplyAdd(b, x0, a20); a21 = Vector256.FusedMultiplyAdd(b, x1, a21);
                    b = Vector256.Create(w3[i]);
                    a30 = Vector256.FusedMultiplyAdd(b, x0, a30); a31 = Vector256.FusedMultiplyAdd(b, x1, a31);
                    b = Vector256.Create(w4[i]);
                    a40 = Vector256.FusedMultiplyAdd(b, x0, a40); a41 = Vector256.FusedMultiplyAdd(b, x1, a41);
                    b = Vector256.Create(w5[i]);
                    a50 = Vector256.FusedMultiplyAdd(b, x0, a50); a51 = Vector256.FusedMultiplyAdd(b, x1, a51);
                }
                Vector256.Store(a00, a); Vector256.Store(a01, a + 8); Vector256.Store(a10, a + 16); Vector256.Store(a11, a + 24);
                Vector256.Store(a20, a + 32); Vector256.Store(a21, a + 40); Vector256.Store(a30, a + 48); Vector256.Store(a31, a + 56);
                Vector256.Store(a40, a + 64); Vector256.Store(a41, a + 72); Vector256.Store(a50, a + 80); Vector256.Store(a51, a + 88);
            }
        }
        var sums = stackalloc float[Tokens];
        for (int r = 0; r < Rows; r++)
        {
            Vector256.Store(Tree(acc + r * 16), sums);
            Vector256.Store(Tree(acc + r * 16 + 8), sums + 8);
            for (int t = 0; t < count; t++) y[t * yStride + r] = sums[t];
        }
    }

    /// <summary><see cref="Tile"/> with 32 tokens in two 512-bit vectors: the same chains, twice as many lanes.</summary>
    private static void Tile512(float* w, int k, float* xp, int count, float* y, nint yStride, float* acc)
    {
        const int T = 32, Stride = Rows * T;
        float* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k, w4 = w + 4 * k, w5 = w + 5 * k;
        for (int s0 = 0; s0 < k; s0 += Slice)
        {
            int s1 = Math.Min(k, s0 + Slice);
            for (int j = 0; j < 16; j++)
            {
                float* a = acc + j * Stride;
                Vector512<float> a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51;
                if (s0 == 0)
                    a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = a40 = a41 = a50 = a51 = Vector512<float>.Zero;
                else
                {
                    a00 = Vector512.Load(a); a01 = Vector512.Load(a + 16); a10 = Vector512.Load(a + 32); a11 = Vector512.Load(a + 48);
                    a20 = Vector512.Load(a + 64); a21 = Vector512.Load(a + 80); a30 = Vector512.Load(a + 96); a31 = Vector512.Load(a + 112);
                    a40 = Vector512.Load(a + 128); a41 = Vector512.Load(a + 144); a50 = Vector512.Load(a + 160); a51 = Vector512.Load(a + 176);
                }
                float* px = xp + (long)(s0 + j * ((s1 - s0) / 16)) * T;
                for (int i = s0 + j; i < s1; i += 16, px += T)
                {
                    var x0 = Vector512.Load(px);
                    var x1 = Vector512.Load(px + 16);
                    var b = Vector512.Create(w[i]);
                    a00 = Vector512.FusedMultiplyAdd(b, x0, a00); a01 = Vector512.FusedMultiplyAdd(b, x1, a01);
                    b = Vector512.Create(w1[i]);
                    a10 = Vector512.FusedMultiplyAdd(b, x0, a10); a11 = Vector512.FusedMultiplyAdd(b, x1, a11);
                    b = Vector512.Create(w2[i]);
                    a20 = Vector512.FusedMultiplyAdd(b, x0, a20); a21 = Vector512.FusedMultiplyAdd(b, x1, a21);
                    b = Vector512.Create(w3[i]);
                    a30 = Vector512.FusedMultiplyAdd(b, x0, a30); a31 = Vector512.FusedMultiplyAdd(b, x1, a31);
                    b = Vector512.Create(w4[i]);
                    a40 = Vector512.FusedMultiplyAdd(b, x0, a40); a41 = Vector512.FusedMultiplyAdd(b, x1, a41);
                    b = Vector512.Create(w5[i]);
                    a50 = Vector512.FusedMultiplyAdd(b, x0, a50); a51 = Vector512.FusedMultiplyAdd(b, x1, a51);
                }
                Vector512.Store(a00, a); Vector512.Store(a01, a + 16); Vector512.Store(a10, a + 32); Vector512.Store(a11, a + 48);
                Vector512.Store(a20, a + 64); Vector512.Store(a21, a + 80); Vector512.Store(a30, a + 96); Vector512.Store(a31, a + 112);
                Vector512.Store(a40, a + 128); Vector512.Store(a41, a + 144); Vector512.Store(a50, a + 160); Vector512.Store(a51, a + 176);
            }
        }
        var sums = stackalloc float[T];
        for (int r = 0; r < Rows; r++)
        {
            Vector512.Store(Tree512(acc + r * T, Stride), sums);
            Vector512.Store(Tree512(acc + r * T + 16, Stride), sums + 16);
            for (int t = 0; t < count; t++) y[t * yStride + r] = sums[t];
        }
    }

    /// <summary><see cref="Tree"/> on 512-bit lanes, residues <paramref name="stride"/> floats apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Tree512(float* p, int stride)
    {
        var t3_0 = Vector512.Load(p + 8 * stride) + Vector512.Load(p);
        var t3_1 = Vector512.Load(p + 9 * stride) + Vector512.Load(p + stride);
        var t3_2 = Vector512.Load(p + 10 * stride) + Vector512.Load(p + 2 * stride);
        var t3_3 = Vector512.Load(p + 11 * stride) + Vector512.Load(p + 3 * stride);
        var t3_4 = Vector512.Load(p + 12 * stride) + Vector512.Load(p + 4 * stride);
        var t3_5 = Vector512.Load(p + 13 * stride) + Vector512.Load(p + 5 * stride);
        var t3_6 = Vector512.Load(p + 14 * stride) + Vector512.Load(p + 6 * stride);
        var t3_7 = Vector512.Load(p + 15 * stride) + Vector512.Load(p + 7 * stride);
        var t6_0 = t3_4 + t3_0;
        var t6_1 = t3_5 + t3_1;
        var t6_2 = t3_6 + t3_2;
        var t6_3 = t3_7 + t3_3;
        return (t6_0 + t6_2) + (t6_1 + t6_3);
    }

    /// <summary>
    /// <see cref="Dot.ReduceAdd(Vector512{float})"/>'s tree over the sixteen residues' partial sums (each 96 floats
    /// apart), lane by lane: lanes l and l+8, then l and l+4, then (0+2) + (1+3).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Tree(float* p)
    {
        var t3_0 = Vector256.Load(p + 8 * 96) + Vector256.Load(p);
        var t3_1 = Vector256.Load(p + 9 * 96) + Vector256.Load(p + 96);
        var t3_2 = Vector256.Load(p + 10 * 96) + Vector256.Load(p + 2 * 96);
        var t3_3 = Vector256.Load(p + 11 * 96) + Vector256.Load(p + 3 * 96);
        var t3_4 = Vector256.Load(p + 12 * 96) + Vector256.Load(p + 4 * 96);
        var t3_5 = Vector256.Load(p + 13 * 96) + Vector256.Load(p + 5 * 96);
        var t3_6 = Vector256.Load(p + 14 * 96) + Vector256.Load(p + 6 * 96);
        var t3_7 = Vector256.Load(p + 15 * 96) + Vector256.Load(p + 7 * 96);
        var t6_0 = t3_4 + t3_0;
        var t6_1 = t3_5 + t3_1;
        var t6_2 = t3_6 + t3_2;
        var t6_3 = t3_7 + t3_3;
        return (t6_0 + t6_2) + (t6_1 + t6_3);
    }
}
