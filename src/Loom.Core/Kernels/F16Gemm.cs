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
        if (Vector512.IsHardwareAccelerated) Tile<Lanes512, Vector512<float>>(w, k, xp, count, y, yStride, acc);
        else Tile<Lanes256, Vector256<float>>(w, k, xp, count, y, yStride, acc);
    }

    /// <summary>The one body, for tokens in two vectors of <typeparamref name="TVec"/> (<see cref="Tokens"/> lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TLanes, TVec>(float* w, int k, float* xp, int count, float* y, nint yStride, float* acc)
        where TLanes : struct, ILanes<TVec> where TVec : struct
    {
        int l = TLanes.Count, tokens = 2 * l, stride = Rows * tokens;
        float* w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k, w4 = w + 4 * k, w5 = w + 5 * k;
        for (int s0 = 0; s0 < k; s0 += Slice)
        {
            int s1 = Math.Min(k, s0 + Slice);
            for (int j = 0; j < 16; j++)
            {
                float* a = acc + j * stride;
                TVec a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51;
                if (s0 == 0)
                    a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = a40 = a41 = a50 = a51 = TLanes.Zero;
                else
                {
                    a00 = TLanes.Load(a); a01 = TLanes.Load(a + l); a10 = TLanes.Load(a + 2 * l); a11 = TLanes.Load(a + 3 * l);
                    a20 = TLanes.Load(a + 4 * l); a21 = TLanes.Load(a + 5 * l); a30 = TLanes.Load(a + 6 * l); a31 = TLanes.Load(a + 7 * l);
                    a40 = TLanes.Load(a + 8 * l); a41 = TLanes.Load(a + 9 * l); a50 = TLanes.Load(a + 10 * l); a51 = TLanes.Load(a + 11 * l);
                }
                float* px = xp + (long)(s0 + j * ((s1 - s0) / 16)) * tokens;
                for (int i = s0 + j; i < s1; i += 16, px += tokens)
                {
                    var x0 = TLanes.Load(px);
                    var x1 = TLanes.Load(px + l);
                    var b = TLanes.Broadcast(w[i]);
                    a00 = TLanes.MulAdd(b, x0, a00); a01 = TLanes.MulAdd(b, x1, a01);
                    b = TLanes.Broadcast(w1[i]);
                    a10 = TLanes.MulAdd(b, x0, a10); a11 = TLanes.MulAdd(b, x1, a11);
                    b = TLanes.Broadcast(w2[i]);
                    a20 = TLanes.MulAdd(b, x0, a20); a21 = TLanes.MulAdd(b, x1, a21);
                    b = TLanes.Broadcast(w3[i]);
                    a30 = TLanes.MulAdd(b, x0, a30); a31 = TLanes.MulAdd(b, x1, a31);
                    b = TLanes.Broadcast(w4[i]);
                    a40 = TLanes.MulAdd(b, x0, a40); a41 = TLanes.MulAdd(b, x1, a41);
                    b = TLanes.Broadcast(w5[i]);
                    a50 = TLanes.MulAdd(b, x0, a50); a51 = TLanes.MulAdd(b, x1, a51);
                }
                TLanes.Store(a00, a); TLanes.Store(a01, a + l); TLanes.Store(a10, a + 2 * l); TLanes.Store(a11, a + 3 * l);
                TLanes.Store(a20, a + 4 * l); TLanes.Store(a21, a + 5 * l); TLanes.Store(a30, a + 6 * l); TLanes.Store(a31, a + 7 * l);
                TLanes.Store(a40, a + 8 * l); TLanes.Store(a41, a + 9 * l); TLanes.Store(a50, a + 10 * l); TLanes.Store(a51, a + 11 * l);
            }
        }
        // Dot.ReduceAdd(Vector512)'s tree over the sixteen residues' partial sums, sixteen tokens' lanes at a time
        // (once per row and tile, so 512-bit vectors emulated on 256-bit hardware cost nothing that shows).
        var sums = stackalloc float[32];
        for (int r = 0; r < Rows; r++)
        {
            for (int c = 0; c < tokens; c += 16) Dot.ReduceAddColumns(acc + r * tokens + c, stride).Store(sums + c);
            for (int t = 0; t < count; t++) y[t * yStride + r] = sums[t];
        }
    }

    /// <summary>One vector width's operations, for <see cref="Tile{TLanes, TVec}"/> (TensorPrimitives' pattern).</summary>
    private interface ILanes<TVec> where TVec : struct
    {
        static abstract int Count { get; }
        static abstract TVec Zero { get; }
        static abstract TVec Load(float* p);
        static abstract void Store(TVec v, float* p);
        static abstract TVec Broadcast(float x);
        static abstract TVec MulAdd(TVec a, TVec b, TVec c);
    }

    private readonly struct Lanes256 : ILanes<Vector256<float>>
    {
        public static int Count => 8;
        public static Vector256<float> Zero => Vector256<float>.Zero;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, float* p) => v.Store(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float x) => Vector256.Create(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    }

    private readonly struct Lanes512 : ILanes<Vector512<float>>
    {
        public static int Count => 16;
        public static Vector512<float> Zero => Vector512<float>.Zero;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, float* p) => v.Store(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float x) => Vector512.Create(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MulAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    }
}
