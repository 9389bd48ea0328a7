using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Core.Kernels.Quantized;

/// <summary>AVX2 building blocks shared by the quantized tile kernels.</summary>
internal static unsafe class TileMath
{
    /// <summary>acc + Σ pairs a·b (i16 × i16 → i32): one vpdpwssd with AVX-VNNI, vpmaddwd + vpaddd without.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotAdd(Vector256<int> acc, Vector256<short> a, Vector256<short> b) =>
        AvxVnni.IsSupported ? AvxVnni.MultiplyWideningAndAdd(acc, a, b) : Avx2.Add(acc, Avx2.MultiplyAddAdjacent(a, b));

    /// <summary>acc + Σ quads u8 w × s8 x → i32: one vpdpbusd with AVX-VNNI, vpmaddubsw + vpmaddwd + vpaddd without.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotBytesAdd(Vector256<int> acc, Vector256<byte> w, byte* x)
    {
        var xs = Avx.LoadVector256((sbyte*)x);
        return AvxVnni.IsSupported
            ? AvxVnni.MultiplyWideningAndAdd(acc, w, xs)
            : Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(w, xs), Vector256.Create((short)1)));
    }

    /// <summary>Byte j = 16 where bit j of <paramref name="bits"/> is set, else 0: the fifth bit of Q5_0/Q5_1 quants.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> FifthBits(uint bits)
    {
        // Byte j takes byte j/8 of the word, then keeps only bit j%8 of it.
        var spread = Avx2.Shuffle(Vector256.Create(bits).AsByte(), Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        var select = Vector256.Create(0x8040201008040201ul).AsByte();
        return Avx2.And(Avx2.CompareEqual(Avx2.And(spread, select), select), Vector256.Create((byte)16));
    }

    /// <summary>The 32 nibbles of 16 bytes, low nibbles first: the element order of Q4_0/Q4_1/Q5_0/Q5_1 blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Nibbles(byte* p)
    {
        var q = Sse2.LoadVector128(p);
        var both = Vector256.Create(q, Sse2.ShiftRightLogical(q.AsUInt16(), 4).AsByte());
        return Avx2.And(both, Vector256.Create((byte)0x0F));
    }

    /// <summary>
    /// Σ pairs of u8 weights × s8 activations as i16 (vpmaddubsw). Exact while |w| ≤ 127 / 2·|x|max allows it, which
    /// holds for every 6-bit-or-narrower unsigned weight: 2·63·128 &lt; 32768.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> MulPairs(Vector256<byte> w, byte* x) => Avx2.MultiplyAddAdjacent(w, Avx.LoadVector256((sbyte*)x));

    /// <summary>The 16 i16 lanes all equal to lane <paramref name="k"/> of each 128-bit half of <paramref name="v"/> (k &lt; 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> Splat(Vector256<short> v, int k) =>
        Avx2.Shuffle(v.AsByte(), Vector256.Create((ushort)(0x0100 + 0x0202 * k)).AsByte()).AsInt16();

    /// <summary>
    /// Lane <paramref name="lo"/> of the low 128-bit half in the low eight i16 lanes, lane <paramref name="hi"/> of the
    /// high half in the high eight.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> Splat2(Vector256<short> v, int lo, int hi) =>
        Avx2.Shuffle(v.AsByte(), Vector256.Create(
            Vector128.Create((ushort)(0x0100 + 0x0202 * lo)).AsByte(),
            Vector128.Create((ushort)(0x0100 + 0x0202 * hi)).AsByte())).AsInt16();

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
    /// Prefetches past the end of the matrix are harmless: they never fault.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(byte* block, nint ahead, int blockBytes)
    {
        byte* p = block + ahead;
        Sse.Prefetch0(p);
        if (blockBytes > 64) Sse.Prefetch0(p + 64);
        if (blockBytes > 128) Sse.Prefetch0(p + 128);
    }

    /// <summary>Horizontal sum of the eight float lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> v)
    {
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

    /// <summary>
    /// acc + vpdpbusd(q, four activation bytes at <paramref name="x"/> broadcast): with a packed tile's chunk, each
    /// 32-bit lane adds one row's four products.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotBroadcast(Vector256<int> acc, Vector256<byte> q, byte* x) =>
        AvxVnni.MultiplyWideningAndAdd(acc, q, Vector256.Create(*(int*)x).AsSByte());

    /// <summary>Eight consecutive f16 values (a packed tile's row scales) to floats, exactly for finite values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Halves8(byte* p)
    {
        var h = Avx2.ConvertToVector256Int32((ushort*)p).AsUInt32();
        var magnitude = Vector256.ShiftLeft(h & Vector256.Create(0x7FFFu), 13).AsSingle() * Vector256.Create(5.192296858534828e33f);
        return (magnitude.AsUInt32() | Vector256.ShiftLeft(h & Vector256.Create(0x8000u), 16)).AsSingle();
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
