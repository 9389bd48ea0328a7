namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q6_K in tiles of eight rows × one super-block (1680 bytes, the same as eight blocks): the eight f16 d; the int8
/// group scales as eight 16-byte vectors, vector p holding row r's scales 2p, 2p+1 in bytes 2r, 2r+1; then per half h
/// of the super-block three runs of eight 32-byte chunks: ql bytes 64h+4j.. (elements 128h+4j.. and 128h+64+4j..),
/// ql bytes 64h+32+4j.. (elements 128h+32+4j.. and 128h+96+4j..) and qh bytes 32h+4j.. (the top bits of all four),
/// bytes 4r..4r+3 of a chunk belonging to row r as in <see cref="Q4_0Packed"/>. Masks and shifts assemble eight
/// rows × four unsigned quants (0..63), one row per 32-bit lane, for vpdpbusd against four broadcast activation
/// bytes; each group of sixteen's row sums is multiplied by the rows' scales (vpmulld) into the super-block's integer
/// sum, and the −32 offset comes out exactly as −32·Σ scale·bsum (vpdpwssd of the scale pairs against the Q8_K bsums).
/// </summary>
/// <remarks>
/// Per row, token and super-block, with the exact integer isum = Σ_g scale_g·Σ (q−32)·x: acc = fma(isum, d·d_x, acc).
/// <see cref="ReferenceDot"/> is that order in scalar code and the kernels equal it bit for bit.
/// </remarks>
public static unsafe class Q6_KPacked
{
    public const int TileBlockBytes = 16 + 128 + 1536;

    private const int ScalesOffset = 16, QuantsOffset = 144, HalfBytes = 768, QhRun = 512;
    private const int XQs = 4, XBsums = 260;

    public static bool IsSupported => TileMath.IsSupported;

    /// <summary>Packs eight rows (<paramref name="rowBytes"/> apart) of <paramref name="blocks"/> super-blocks each.</summary>
    public static void Pack(byte* rows, nint rowBytes, int blocks, byte* dst)
    {
        for (int b = 0; b < blocks; b++, dst += TileBlockBytes)
            for (int r = 0; r < 8; r++)
            {
                byte* src = rows + r * rowBytes + (nint)b * Q6_K.BlockBytes;
                ((ushort*)dst)[r] = *(ushort*)(src + 208);
                for (int p = 0; p < 8; p++) *(ushort*)(dst + ScalesOffset + 16 * p + 2 * r) = *(ushort*)(src + 192 + 2 * p);
                for (int h = 0; h < 2; h++)
                {
                    byte* half = dst + QuantsOffset + HalfBytes * h + 4 * r;
                    for (int j = 0; j < 8; j++)
                    {
                        *(uint*)(half + 32 * j) = *(uint*)(src + 64 * h + 4 * j);
                        *(uint*)(half + 256 + 32 * j) = *(uint*)(src + 64 * h + 32 + 4 * j);
                        *(uint*)(half + QhRun + 32 * j) = *(uint*)(src + 128 + 32 * h + 4 * j);
                    }
                }
            }
    }

    /// <summary>One Q6_K row against one Q8_K activation row, summed in the packed kernels' order (see remarks).</summary>
    public static float ReferenceDot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        float acc = 0;
        for (int b = 0; b < n / Q6_K.BlockSize; b++)
        {
            var wb = w.Slice(b * Q6_K.BlockBytes, Q6_K.BlockBytes);
            var xb = x.Slice(b * Q8_K.BlockBytes, Q8_K.BlockBytes);
            var xq = Q8_K.Quants(xb);
            int isum = 0;
            for (int g = 0; g < 16; g++)
            {
                int dot = 0;
                for (int e = 16 * g; e < 16 * g + 16; e++)
                {
                    int h = e / 128, k = e % 128 / 32, l = e % 32;
                    byte ql = wb[64 * h + 32 * (k & 1) + l];
                    int q = (k < 2 ? ql & 0x0F : ql >> 4) | ((wb[128 + 32 * h + l] >> (2 * k)) & 3) << 4;
                    dot += (q - 32) * xq[e];
                }
                isum += (sbyte)wb[192 + g] * dot;
            }
            acc = MathF.FusedMultiplyAdd(isum, QuantMath.ReadHalf(wb, 208) * Q8_K.Scale(xb), acc);
        }
        return acc;
    }

    /// <inheritdoc cref="PackedTileKernel"/>
    public static void Mul(byte* tile, int blocks, byte* x, nint xRowBytes, int tokens, float* y, nint yStride) =>
        TileMath.ByTokens(&Tokens<FourTokens>, &Tokens<ThreeTokens>, &Tokens<TwoTokens>, &Token1, tile, blocks, x, xRowBytes, tokens, y, yStride);

    /// <summary>Scale pair p of the eight rows as i16 (lane r: scale 2p, scale 2p+1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> ScalePairs(byte* w, int p) => TileMath.SBytes16((sbyte*)(w + ScalesOffset + 16 * p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Even(Vector256<short> pairs) => Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(pairs.AsInt32(), 16), 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Odd(Vector256<short> pairs) => Vector256.ShiftRightArithmetic(pairs.AsInt32(), 16);

    /// <summary>acc + scale_2p·bsum_2p + scale_2p+1·bsum_2p+1: the groups' Σx weighted by their scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Offset(Vector256<int> acc, Vector256<short> pairs, byte* x, int p) =>
        TileMath.DotAdd(acc, pairs, Vector256.Create(*(int*)(x + XBsums + 4 * p)).AsInt16());

    /// <summary>acc = fma(isum − 32·offset, d·d_x, acc).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale(Vector256<float> acc, Vector256<int> isum, Vector256<int> offset, Vector256<float> d, byte* x) =>
        TileMath.MulAdd(TileMath.ToFloat(isum - Vector256.ShiftLeft(offset, 5)), d * Vector256.Create(*(float*)x), acc);

    /// <summary>
    /// Quarter <paramref name="k"/>'s quants (0..63) from its ql chunk and the shared qh chunk. A predictable branch
    /// per chunk costs less than shifting by variable counts.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Quants(Vector256<byte> ql, Vector256<ushort> qh, int k, Vector256<byte> m4, Vector256<byte> m30) => k switch
    {
        0 => (ql & m4) | (Vector256.ShiftLeft(qh, 4).AsByte() & m30),
        1 => (ql & m4) | (Vector256.ShiftLeft(qh, 2).AsByte() & m30),
        2 => (Vector256.ShiftRightLogical(ql.AsUInt16(), 4).AsByte() & m4) | (qh.AsByte() & m30),
        _ => (Vector256.ShiftRightLogical(ql.AsUInt16(), 4).AsByte() & m4) | (Vector256.ShiftRightLogical(qh, 2).AsByte() & m30),
    };

    private static void Token1(byte* w, int blocks, byte* x, float* y)
    {
        var m4 = Vector256.Create((byte)0x0F);
        var m30 = Vector256.Create((byte)0x30);
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++, w += TileBlockBytes, x += Q8_K.BlockBytes)
        {
            TileMath.Prefetch(w, TileMath.StreamAhead, TileBlockBytes);
            var isum = Vector256<int>.Zero;
            var offset = Vector256<int>.Zero;
            for (int h = 0; h < 2; h++)
            {
                byte* q = w + QuantsOffset + HalfBytes * h;
                byte* xq = x + XQs + 128 * h;
                // Sixteen-element groups: chunks 0..3 of each quarter first, then chunks 4..7.
                for (int j0 = 0; j0 < 8; j0 += 4)
                {
                    Vector256<int> d0 = default, d1 = default, d2 = default, d3 = default;
                    for (int j = j0; j < j0 + 4; j++)
                    {
                        var la = Vector256.Load(q + 32 * j);
                        var lb = Vector256.Load(q + 256 + 32 * j);
                        var hb = Vector256.Load(q + QhRun + 32 * j).AsUInt16();
                        d0 = TileMath.DotBroadcast(d0, Quants(la, hb, 0, m4, m30), xq + 4 * j);
                        d1 = TileMath.DotBroadcast(d1, Quants(lb, hb, 1, m4, m30), xq + 32 + 4 * j);
                        d2 = TileMath.DotBroadcast(d2, Quants(la, hb, 2, m4, m30), xq + 64 + 4 * j);
                        d3 = TileMath.DotBroadcast(d3, Quants(lb, hb, 3, m4, m30), xq + 96 + 4 * j);
                    }
                    if (j0 == 0)
                        isum += d0 * Even(ScalePairs(w, 4 * h)) + d1 * Even(ScalePairs(w, 4 * h + 1))
                            + d2 * Even(ScalePairs(w, 4 * h + 2)) + d3 * Even(ScalePairs(w, 4 * h + 3));
                    else
                        isum += d0 * Odd(ScalePairs(w, 4 * h)) + d1 * Odd(ScalePairs(w, 4 * h + 1))
                            + d2 * Odd(ScalePairs(w, 4 * h + 2)) + d3 * Odd(ScalePairs(w, 4 * h + 3));
                }
            }
            for (int p = 0; p < 8; p++) offset = Offset(offset, ScalePairs(w, p), x, p);
            acc = Scale(acc, isum, offset, TileMath.Halves8(w), x);
        }
        acc.Store(y);
    }

    private static void Tokens<T>(byte* w, int blocks, byte* x, nint xs, float* y, nint ys) where T : struct, ITokenCount
    {
        var m4 = Vector256.Create((byte)0x0F);
        var m30 = Vector256.Create((byte)0x30);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        byte* x1 = x + xs, x2 = x + 2 * xs, x3 = x + 3 * xs;
        for (int b = 0; b < blocks; b++, w += TileBlockBytes)
        {
            TileMath.Prefetch(w, TileMath.StreamAhead, TileBlockBytes);
            nint o = b * Q8_K.BlockBytes;
            byte* p0 = x + o, p1 = x1 + o, p2 = x2 + o, p3 = x3 + o;
            Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
            Vector256<int> f0 = default, f1 = default, f2 = default, f3 = default;
            // Pair p = 4h + k covers elements 32p..32p+31: quarter k of half h, scale groups 2p and 2p+1.
            for (int p = 0; p < 8; p++)
            {
                int h = p >> 2, k = p & 3;
                byte* ql = w + QuantsOffset + HalfBytes * h + 256 * (k & 1);
                byte* qh = w + QuantsOffset + HalfBytes * h + QhRun;
                var pairs = ScalePairs(w, p);
                for (int j0 = 0; j0 < 8; j0 += 4)
                {
                    Vector256<int> d0 = default, d1 = default, d2 = default, d3 = default;
                    for (int j = j0; j < j0 + 4; j++)
                    {
                        var v = Quants(Vector256.Load(ql + 32 * j), Vector256.Load(qh + 32 * j).AsUInt16(), k, m4, m30);
                        nint e = XQs + 32 * p + 4 * j;
                        d0 = TileMath.DotBroadcast(d0, v, p0 + e);
                        if (T.N > 1) d1 = TileMath.DotBroadcast(d1, v, p1 + e);
                        if (T.N > 2) d2 = TileMath.DotBroadcast(d2, v, p2 + e);
                        if (T.N > 3) d3 = TileMath.DotBroadcast(d3, v, p3 + e);
                    }
                    var s = j0 == 0 ? Even(pairs) : Odd(pairs);
                    i0 += d0 * s;
                    if (T.N > 1) i1 += d1 * s;
                    if (T.N > 2) i2 += d2 * s;
                    if (T.N > 3) i3 += d3 * s;
                }
                f0 = Offset(f0, pairs, p0, p);
                if (T.N > 1) f1 = Offset(f1, pairs, p1, p);
                if (T.N > 2) f2 = Offset(f2, pairs, p2, p);
                if (T.N > 3) f3 = Offset(f3, pairs, p3, p);
            }
            var d = TileMath.Halves8(w);
            a0 = Scale(a0, i0, f0, d, p0);
            if (T.N > 1) a1 = Scale(a1, i1, f1, d, p1);
            if (T.N > 2) a2 = Scale(a2, i2, f2, d, p2);
            if (T.N > 3) a3 = Scale(a3, i3, f3, d, p3);
        }
        a0.Store(y);
        if (T.N > 1) a1.Store(y + ys);
        if (T.N > 2) a2.Store(y + 2 * ys);
        if (T.N > 3) a3.Store(y + 3 * ys);
    }
}
