using System.Runtime.Intrinsics.Arm;

namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// The building blocks of the quantized kernels, one body per instruction-set tier behind each helper: AVX-VNNI,
/// AVX2, and ARM64 (sdot where the CPU has the dot-product extension, widening multiplies where not). The kernels
/// are written once against these eight-lane helpers; on ARM64 each 256-bit vector is two 128-bit halves. Every
/// tier computes the same exact integers, so a kernel's result does not depend on the tier.
/// </summary>
internal static unsafe class TileMath
{
    /// <summary>Whether the packed SIMD kernels run here: x86-64 with AVX2 and FMA, or ARM64.</summary>
    public static bool IsSupported => (Avx2.IsSupported && Fma.IsSupported) || AdvSimd.Arm64.IsSupported;

    /// <summary>acc + Σ pairs a·b (i16 × i16 → i32): one vpdpwssd with AVX-VNNI, vpmaddwd + vpaddd without.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotAdd(Vector256<int> acc, Vector256<short> a, Vector256<short> b)
    {
        if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(acc, a, b);
        if (Avx2.IsSupported) return Avx2.Add(acc, Avx2.MultiplyAddAdjacent(a, b));
        return Vector256.Create(DotAdd(acc.GetLower(), a.GetLower(), b.GetLower()), DotAdd(acc.GetUpper(), a.GetUpper(), b.GetUpper()));
    }

    /// <summary>The 128-bit half of <see cref="DotAdd(Vector256{int}, Vector256{short}, Vector256{short})"/>: smull, smull2, addp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> DotAdd(Vector128<int> acc, Vector128<short> a, Vector128<short> b)
    {
        if (AdvSimd.Arm64.IsSupported)
            return acc + AdvSimd.Arm64.AddPairwise(AdvSimd.MultiplyWideningLower(a.GetLower(), b.GetLower()), AdvSimd.MultiplyWideningUpper(a, b));
        return acc + Sse2.MultiplyAddAdjacent(a, b);
    }

    /// <summary>
    /// acc + Σ quads u8 q × s8 s per 32-bit lane: one vpdpbusd with AVX-VNNI; vpmaddubsw + vpmaddwd + vpaddd with
    /// AVX2, which is exact only while q ≤ 128 (the i16 pair sums saturate beyond 2·128·127), so callers without VNNI
    /// keep their weights that small (see <see cref="High"/>; Q8_0 uses <see cref="DotSigned"/> instead).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot4(Vector256<int> acc, Vector256<byte> q, Vector256<sbyte> s)
    {
        if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(acc, q, s);
        if (Avx2.IsSupported) return Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, s), Vector256.Create((short)1)));
        return Vector256.Create(Dot4(acc.GetLower(), q.GetLower(), s.GetLower()), Dot4(acc.GetUpper(), q.GetUpper(), s.GetUpper()));
    }

    /// <summary>
    /// The ARM64 half of <see cref="Dot4(Vector256{int}, Vector256{byte}, Vector256{sbyte})"/>. sdot multiplies signed
    /// bytes, which holds every q the kernels pass on this tier (≤ 63: <see cref="High"/> shifts here). Without the
    /// dot-product extension: both widened to i16 (products ≤ 255·128 fit), then two pairwise widening adds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Dot4(Vector128<int> acc, Vector128<byte> q, Vector128<sbyte> s)
    {
        if (Dp.IsSupported) return Dp.DotProduct(acc, q.AsSByte(), s);
        if (AdvSimd.Arm64.IsSupported)
        {
            var lo = AdvSimd.ZeroExtendWideningLower(q.GetLower()).AsInt16() * AdvSimd.SignExtendWideningLower(s.GetLower());
            var hi = AdvSimd.ZeroExtendWideningUpper(q).AsInt16() * AdvSimd.SignExtendWideningUpper(s);
            return acc + AdvSimd.Arm64.AddPairwise(AdvSimd.AddPairwiseWidening(lo), AdvSimd.AddPairwiseWidening(hi));
        }
        return acc + Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(q, s), Vector128.Create((short)1));
    }

    /// <summary>
    /// acc + Σ quads s8 w × s8 s per 32-bit lane (Q8_0's signed weights): |w| against s carrying w's sign on x86
    /// (vpabsb, vpsignb, then <see cref="Dot4(Vector256{int}, Vector256{byte}, Vector256{sbyte})"/>, as ggml's AVX2
    /// kernel does; |−128| = 128 still fits the i16 pair sums), sdot directly on ARM64.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotSigned(Vector256<int> acc, Vector256<sbyte> w, Vector256<sbyte> s)
    {
        if (Avx2.IsSupported) return Dot4(acc, Avx2.Abs(w), Avx2.Sign(s, w));
        return Vector256.Create(DotSigned(acc.GetLower(), w.GetLower(), s.GetLower()), DotSigned(acc.GetUpper(), w.GetUpper(), s.GetUpper()));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> DotSigned(Vector128<int> acc, Vector128<sbyte> w, Vector128<sbyte> s)
    {
        if (Dp.IsSupported) return Dp.DotProduct(acc, w, s);
        if (AdvSimd.Arm64.IsSupported)
        {
            var lo = AdvSimd.MultiplyWideningLower(w.GetLower(), s.GetLower());
            var hi = AdvSimd.MultiplyWideningUpper(w, s);
            return acc + AdvSimd.Arm64.AddPairwise(AdvSimd.AddPairwiseWidening(lo), AdvSimd.AddPairwiseWidening(hi));
        }
        return Dot4(acc, Ssse3.Abs(w), Ssse3.Sign(s, w));
    }

    /// <summary>
    /// acc + Σ quads of q against four activation bytes at <paramref name="x"/> broadcast: with a packed tile's
    /// chunk, each 32-bit lane adds one row's four products. See <see cref="Dot4(Vector256{int}, Vector256{byte}, Vector256{sbyte})"/> for the bound on <paramref name="q"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotBroadcast(Vector256<int> acc, Vector256<byte> q, byte* x) =>
        Dot4(acc, q, Vector256.Create(*(int*)x).AsSByte());

    /// <summary>
    /// A chunk's high nibbles as the dot products take them. vpdpbusd takes them in place (16·q, one vpandn) and the
    /// block's sum is shifted back by <see cref="HighShift"/>, exactly since every term is a multiple of 16; the AVX2
    /// pair sums would saturate on 16·q and sdot reads bytes as signed, so there they are shifted down first.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> High(Vector256<byte> v, Vector256<byte> mask) =>
        AvxVnni.IsSupported ? Vector256.AndNot(v, mask) : Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask;

    /// <summary>The shift that undoes <see cref="High"/>'s scaling: 4 with VNNI, 0 without.</summary>
    public static int HighShift => AvxVnni.IsSupported ? 4 : 0;

    /// <summary>fma(a, b, c) per lane: vfmadd on x86, fmla on ARM64 (both fused, so every tier rounds alike).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : Vector256.FusedMultiplyAdd(a, b, c);

    /// <summary>Eight i32 lanes to float (round to nearest, as vcvtdq2ps and scvtf both do).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToFloat(Vector256<int> v) => Avx.IsSupported ? Avx.ConvertToVector256Single(v) : Vector256.ConvertToSingle(v);

    /// <summary>Eight bytes zero-extended to i32 lanes (vpmovzxbd).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Bytes8(byte* p)
    {
        if (Avx2.IsSupported) return Avx2.ConvertToVector256Int32(p);
        var w = Vector128.WidenLower(Vector128.CreateScalar(*(ulong*)p).AsByte());
        return Vector256.Create(Vector128.WidenLower(w), Vector128.WidenUpper(w)).AsInt32();
    }

    /// <summary>Sixteen signed bytes sign-extended to i16 lanes (vpmovsxbw).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> SBytes16(sbyte* p)
    {
        if (Avx2.IsSupported) return Avx2.ConvertToVector256Int16(p);
        var v = Vector128.Load(p);
        return Vector256.Create(Vector128.WidenLower(v), Vector128.WidenUpper(v));
    }

    /// <summary>Byte j = 16 where bit j of <paramref name="bits"/> is set, else 0: the fifth bit of Q5_0/Q5_1 quants.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> FifthBits(uint bits)
    {
        // Byte j takes byte j/8 of the word, then keeps only bit j%8 of it.
        var select = Vector256.Create(0x8040201008040201ul).AsByte();
        Vector256<byte> spread;
        if (Avx2.IsSupported)
            spread = Avx2.Shuffle(Vector256.Create(bits).AsByte(), Vector256.Create(
                (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        else
        {
            var word = Vector128.Create(bits).AsByte();
            spread = Vector256.Create(
                Vector128.Shuffle(word, Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)),
                Vector128.Shuffle(word, Vector128.Create((byte)2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3)));
        }
        return Vector256.Equals(spread & select, select) & Vector256.Create((byte)16);
    }

    /// <summary>The 32 nibbles of 16 bytes, low nibbles first: the element order of Q4_0/Q4_1/Q5_0/Q5_1 blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Nibbles(byte* p)
    {
        var q = Vector128.Load(p);
        return Vector256.Create(q, Vector128.ShiftRightLogical(q.AsUInt16(), 4).AsByte()) & Vector256.Create((byte)0x0F);
    }

    /// <summary>
    /// Σ pairs of u8 weights × s8 activations as i16 (vpmaddubsw). Exact while |w| ≤ 127 / 2·|x|max allows it, which
    /// holds for every 6-bit-or-narrower unsigned weight: 2·63·128 &lt; 32768.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> MulPairs(Vector256<byte> w, byte* x)
    {
        if (Avx2.IsSupported) return Avx2.MultiplyAddAdjacent(w, Avx.LoadVector256((sbyte*)x));
        var s = Vector256.Load((sbyte*)x);
        return Vector256.Create(MulPairs(w.GetLower(), s.GetLower()), MulPairs(w.GetUpper(), s.GetUpper()));
    }

    /// <summary>The 128-bit half of <see cref="MulPairs(Vector256{byte}, byte*)"/>: widening multiplies, then pairwise adds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> MulPairs(Vector128<byte> w, Vector128<sbyte> s)
    {
        if (AdvSimd.Arm64.IsSupported)
            return AdvSimd.Arm64.AddPairwise(
                AdvSimd.ZeroExtendWideningLower(w.GetLower()).AsInt16() * AdvSimd.SignExtendWideningLower(s.GetLower()),
                AdvSimd.ZeroExtendWideningUpper(w).AsInt16() * AdvSimd.SignExtendWideningUpper(s));
        return Ssse3.MultiplyAddAdjacent(w, s);
    }

    /// <summary>The 16 i16 lanes all equal to lane <paramref name="k"/> of each 128-bit half of <paramref name="v"/> (k &lt; 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> Splat(Vector256<short> v, int k) =>
        Avx2.IsSupported ? Avx2.Shuffle(v.AsByte(), Vector256.Create((ushort)(0x0100 + 0x0202 * k)).AsByte()).AsInt16() : Splat2(v, k, k);

    /// <summary>
    /// Lane <paramref name="lo"/> of the low 128-bit half in the low eight i16 lanes, lane <paramref name="hi"/> of the
    /// high half in the high eight.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> Splat2(Vector256<short> v, int lo, int hi)
    {
        var loIndex = Vector128.Create((ushort)(0x0100 + 0x0202 * lo)).AsByte();
        var hiIndex = Vector128.Create((ushort)(0x0100 + 0x0202 * hi)).AsByte();
        if (Avx2.IsSupported) return Avx2.Shuffle(v.AsByte(), Vector256.Create(loIndex, hiIndex)).AsInt16();
        return Vector256.Create(Vector128.Shuffle(v.GetLower().AsByte(), loIndex), Vector128.Shuffle(v.GetUpper().AsByte(), hiIndex)).AsInt16();
    }

    /// <summary>
    /// fp16 → fp32 without a call (the Half conversion operator is not an intrinsic, and a call inside a kernel loop
    /// makes the JIT spill every vector): the half's bits moved into a float's exponent and mantissa and rescaled by
    /// 2^112 is exact for normal and subnormal values; Inf and NaN get the all-ones exponent directly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Half(byte* p)
    {
        uint h = *(ushort*)p;
        uint mag = (h & 0x7FFF) << 13;
        uint bits = BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle(mag) * 5.192296858534828e33f); // 2^112
        if ((h & 0x7C00) == 0x7C00) bits = mag | 0x7F800000;
        return BitConverter.UInt32BitsToSingle(bits | ((h & 0x8000) << 16));
    }

    /// <summary>
    /// Prefetches the same block <paramref name="ahead"/> bytes further on, normally the next row tile's
    /// (rows · wRowBytes: drivers walk row tiles in order). A tile walks its rows in step, a few hundred instructions
    /// per block, so out-of-order execution alone keeps too few cache lines in flight to stream from DRAM.
    /// Prefetches past the end of the matrix are harmless: they never fault. No-op off x86.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(byte* block, nint ahead, int blockBytes)
    {
        if (!Sse.IsSupported) return;
        byte* p = block + ahead;
        // The first three lines unrolled: with the constant block sizes of the callers, the tests and the loop fold away.
        Sse.Prefetch0(p);
        if (blockBytes > 64) Sse.Prefetch0(p + 64);
        if (blockBytes > 128) Sse.Prefetch0(p + 128);
        for (int o = 192; o < blockBytes; o += 64) Sse.Prefetch0(p + o);
    }

    /// <summary>
    /// How far ahead a kernel that streams its weights once (a decode: the packed tiles, f16 rows) asks for them with
    /// <see cref="Prefetch"/>: the hardware prefetchers alone leave about a fifth of a Q4_0 token's time waiting on
    /// memory (AVX2, 2 threads); 1 and 4 KiB measured the same.
    /// </summary>
    public const int StreamAhead = 2048;

    /// <summary>Horizontal sum of the eight float lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> v)
    {
        if (!Sse.IsSupported)
        {
            var h = v.GetLower() + v.GetUpper();
            return (h[0] + h[2]) + (h[1] + h[3]);
        }
        var s = Sse.Add(v.GetLower(), v.GetUpper());
        s = Sse.Add(s, Sse.MoveHighToLow(s, s));
        s = Sse.AddScalar(s, Sse.Shuffle(s, s, 0x55));
        return s.ToScalar();
    }

    /// <summary>Writes y[t·yStride + r] = Σ lanes of acc[r·MaxTokens + t].</summary>
    public static void Store(Vector256<float>* acc, int rows, int tokens, float* y, nint yStride)
    {
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
                y[t * yStride + r] = Sum(acc[r * TileKernels.MaxTokens + t]);
    }

    /// <summary>Eight consecutive f16 values (a packed tile's row scales, always finite) to floats, exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Halves8(byte* p) => Dot.WidenFinite8((short*)p);

    /// <summary>
    /// Runs a packed kernel's multi-token form over groups of four tokens, and over a remainder of two or three (a
    /// speculative verification's few rows: each weight chunk is unpacked once for all of them, where one-token
    /// passes would unpack it once per token), and its one-token form over a lone token.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ByTokens(delegate*<byte*, int, byte*, nint, float*, nint, void> four, delegate*<byte*, int, byte*, nint, float*, nint, void> three,
        delegate*<byte*, int, byte*, nint, float*, nint, void> two, delegate*<byte*, int, byte*, float*, void> one,
        byte* w, int blocks, byte* x, nint xRowBytes, int tokens, float* y, nint yStride)
    {
        int t = 0;
        for (; t + 4 <= tokens; t += 4) four(w, blocks, x + t * xRowBytes, xRowBytes, y + t * yStride, yStride);
        switch (tokens - t)
        {
            case 3: three(w, blocks, x + t * xRowBytes, xRowBytes, y + t * yStride, yStride); break;
            case 2: two(w, blocks, x + t * xRowBytes, xRowBytes, y + t * yStride, yStride); break;
            case 1: one(w, blocks, x + t * xRowBytes, y + t * yStride); break;
        }
    }

    /// <summary>
    /// Runs a packed kernel's four-token form over whole groups of four tokens and its one-token form over the rest.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ByTokens(delegate*<byte*, int, byte*, nint, float*, nint, void> four, delegate*<byte*, int, byte*, float*, void> one,
        byte* w, int blocks, byte* x, nint xRowBytes, int tokens, float* y, nint yStride)
    {
        int t = 0;
        for (; t + 4 <= tokens; t += 4) four(w, blocks, x + t * xRowBytes, xRowBytes, y + t * yStride, yStride);
        for (; t < tokens; t++) one(w, blocks, x + t * xRowBytes, y + t * yStride);
    }
}
