namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q4_K in tiles of eight rows × one super-block (1184 bytes, 2.8% more than eight blocks): the eight f16 d, the
/// eight f16 dmin, the 6-bit scales unpacked to bytes ([sub-block][row], 64 bytes), the mins likewise (64 bytes),
/// then 32 chunks of 32 bytes. Chunk 8c+j holds, in bytes 4r..4r+3, row r's quant bytes 32c+4j..32c+4j+3: their low
/// nibbles are elements 64c+4j.., of sub-block 2c, their high nibbles elements 64c+32+4j.., of sub-block 2c+1. As in
/// <see cref="Q4_0Packed"/>, a mask or a shift gives eight rows × four quants, one row per 32-bit lane, for vpdpbusd
/// against four broadcast activation bytes; each sub-block's eight row sums are then multiplied by the rows' scales
/// (vpmovzxbd, vpmulld) into the super-block's integer sum, and the mins meet the Q8_K bsums through vpdpwssd.
/// </summary>
/// <remarks>
/// Per row and token and super-block, with exact integers isum = Σ_sb sc·Σ q·x and msum = Σ_sb m·(bsum_2sb + bsum_2sb+1):
/// acc = fma(isum, d·d_x, acc), then acc = fma(−msum, dmin·d_x, acc). <see cref="ReferenceDot"/> is that order in
/// scalar code and the kernels equal it bit for bit.
/// </remarks>
public static unsafe class Q4_KPacked
{
    public const int TileBlockBytes = 16 + 16 + 64 + 64 + 1024;

    private const int DminOffset = 16, ScalesOffset = 32, MinsOffset = 96, QsOffset = 160;
    private const int XQs = 4, XBsums = 260;

    public static bool IsSupported => TileMath.IsSupported;

    /// <summary>Packs eight rows (<paramref name="rowBytes"/> apart) of <paramref name="blocks"/> super-blocks each.</summary>
    public static void Pack(byte* rows, nint rowBytes, int blocks, byte* dst)
    {
        for (int b = 0; b < blocks; b++, dst += TileBlockBytes)
            for (int r = 0; r < 8; r++)
            {
                byte* src = rows + r * rowBytes + (nint)b * Q4_K.BlockBytes;
                ((ushort*)dst)[r] = *(ushort*)src;
                ((ushort*)(dst + DminOffset))[r] = *(ushort*)(src + 2);
                for (int sb = 0; sb < 8; sb++)
                {
                    KScaleMin.Get(new ReadOnlySpan<byte>(src + 4, 12), sb, out int sc, out int m);
                    dst[ScalesOffset + 8 * sb + r] = (byte)sc;
                    dst[MinsOffset + 8 * sb + r] = (byte)m;
                }
                for (int c = 0; c < 4; c++)
                    for (int j = 0; j < 8; j++)
                        *(uint*)(dst + QsOffset + 32 * (8 * c + j) + 4 * r) = *(uint*)(src + 16 + 32 * c + 4 * j);
            }
    }

    /// <summary>One Q4_K row against one Q8_K activation row, summed in the packed kernels' order (see remarks).</summary>
    public static float ReferenceDot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        float acc = 0;
        for (int b = 0; b < n / Q4_K.BlockSize; b++)
        {
            var wb = w.Slice(b * Q4_K.BlockBytes, Q4_K.BlockBytes);
            var xb = x.Slice(b * Q8_K.BlockBytes, Q8_K.BlockBytes);
            var xq = Q8_K.Quants(xb);
            int isum = 0, msum = 0;
            for (int sb = 0; sb < 8; sb++)
            {
                KScaleMin.Get(wb.Slice(4, 12), sb, out int sc, out int m);
                int dot = 0;
                for (int l = 0; l < 32; l++)
                {
                    byte q = wb[16 + 32 * (sb / 2) + l];
                    dot += (sb % 2 == 0 ? q & 0x0F : q >> 4) * xq[32 * sb + l];
                }
                isum += sc * dot;
                msum += m * (Q8_K.BlockSum(xb, 2 * sb) + Q8_K.BlockSum(xb, 2 * sb + 1));
            }
            float dx = Q8_K.Scale(xb);
            acc = MathF.FusedMultiplyAdd(isum, QuantMath.ReadHalf(wb, 0) * dx, acc);
            acc = MathF.FusedMultiplyAdd(-(float)msum, QuantMath.ReadHalf(wb, 2) * dx, acc);
        }
        return acc;
    }

    /// <inheritdoc cref="PackedTileKernel"/>
    public static void Mul(byte* tile, int blocks, byte* x, nint xRowBytes, int tokens, float* y, nint yStride) =>
        TileMath.ByTokens(&Tokens<FourTokens>, &Tokens<ThreeTokens>, &Tokens<TwoTokens>, &Token1, tile, blocks, x, xRowBytes, tokens, y, yStride);

    /// <summary>The rows' scales (or mins) of one sub-block, one per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Bytes8(byte* p) => TileMath.Bytes8(p);

    /// <summary>The rows' mins of one sub-block as i16 pairs (m, m), one row per lane, to meet a pair of bsums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> MinPairs(byte* p)
    {
        var m = Bytes8(p);
        return (m | Vector256.ShiftLeft(m, 16)).AsInt16();
    }

    /// <summary>acc + m·(bsum_2sb + bsum_2sb+1) for sub-block <paramref name="sb"/> of the activation block at <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MinDot(Vector256<int> acc, Vector256<short> mins, byte* x, int sb) =>
        TileMath.DotAdd(acc, mins, Vector256.Create(*(int*)(x + XBsums + 4 * sb)).AsInt16());

    /// <summary>acc = fma(isum, d·d_x, acc) then fma(−msum, dmin·d_x, acc).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale(Vector256<float> acc, Vector256<int> isum, Vector256<int> msum, Vector256<float> d, Vector256<float> dmin, byte* x)
    {
        var dx = Vector256.Create(*(float*)x);
        acc = TileMath.MulAdd(TileMath.ToFloat(isum), d * dx, acc);
        return TileMath.MulAdd(-TileMath.ToFloat(msum), dmin * dx, acc);
    }

    private static void Token1(byte* w, int blocks, byte* x, float* y)
    {
        var mask = Vector256.Create((byte)0x0F);
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++, w += TileBlockBytes, x += Q8_K.BlockBytes)
        {
            TileMath.Prefetch(w, TileMath.StreamAhead, TileBlockBytes);
            var isum = Vector256<int>.Zero;
            var msum = Vector256<int>.Zero;
            for (int c = 0; c < 4; c++)
            {
                byte* q = w + QsOffset + 256 * c;
                byte* xq = x + XQs + 64 * c;
                NibbleDot l0 = default, l1 = default, h0 = default, h1 = default;
                for (int j = 0; j < 8; j += 2)
                {
                    var v0 = Vector256.Load(q + 32 * j);
                    var v1 = Vector256.Load(q + 32 * j + 32);
                    l0.Add(v0 & mask, xq + 4 * j);
                    l1.Add(v1 & mask, xq + 4 * j + 4);
                    h0.Add(TileMath.High(v0, mask), xq + 32 + 4 * j);
                    h1.Add(TileMath.High(v1, mask), xq + 32 + 4 * j + 4);
                }
                isum += (l0 + l1).Sum * Bytes8(w + ScalesOffset + 16 * c) + Vector256.ShiftRightArithmetic((h0 + h1).Sum, TileMath.HighShift) * Bytes8(w + ScalesOffset + 16 * c + 8);
                msum = MinDot(msum, MinPairs(w + MinsOffset + 16 * c), x, 2 * c);
                msum = MinDot(msum, MinPairs(w + MinsOffset + 16 * c + 8), x, 2 * c + 1);
            }
            acc = Scale(acc, isum, msum, TileMath.Halves8(w), TileMath.Halves8(w + DminOffset), x);
        }
        acc.Store(y);
    }

    private static void Tokens<T>(byte* w, int blocks, byte* x, nint xs, float* y, nint ys) where T : struct, ITokenCount
    {
        var mask = Vector256.Create((byte)0x0F);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        byte* x1 = x + xs, x2 = x + 2 * xs, x3 = x + 3 * xs;
        for (int b = 0; b < blocks; b++, w += TileBlockBytes)
        {
            TileMath.Prefetch(w, TileMath.StreamAhead, TileBlockBytes);
            nint o = b * Q8_K.BlockBytes;
            byte* p0 = x + o, p1 = x1 + o, p2 = x2 + o, p3 = x3 + o;
            Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
            Vector256<int> m0 = default, m1 = default, m2 = default, m3 = default;
            for (int c = 0; c < 4; c++)
            {
                byte* q = w + QsOffset + 256 * c;
                NibbleDot l0 = default, l1 = default, l2 = default, l3 = default;
                NibbleDot h0 = default, h1 = default, h2 = default, h3 = default;
                for (int j = 0; j < 8; j++)
                {
                    var v = Vector256.Load(q + 32 * j);
                    var lo = v & mask;
                    var hi = Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask;
                    nint e = XQs + 64 * c + 4 * j;
                    l0.Add(lo, p0 + e);
                    if (T.N > 1) l1.Add(lo, p1 + e);
                    if (T.N > 2) l2.Add(lo, p2 + e);
                    if (T.N > 3) l3.Add(lo, p3 + e);
                    h0.Add(hi, p0 + e + 32);
                    if (T.N > 1) h1.Add(hi, p1 + e + 32);
                    if (T.N > 2) h2.Add(hi, p2 + e + 32);
                    if (T.N > 3) h3.Add(hi, p3 + e + 32);
                }
                var sl = Bytes8(w + ScalesOffset + 16 * c);
                var sh = Bytes8(w + ScalesOffset + 16 * c + 8);
                var ml = MinPairs(w + MinsOffset + 16 * c);
                var mh = MinPairs(w + MinsOffset + 16 * c + 8);
                i0 += l0.Sum * sl + h0.Sum * sh;
                m0 = MinDot(MinDot(m0, ml, p0, 2 * c), mh, p0, 2 * c + 1);
                if (T.N > 1) { i1 += l1.Sum * sl + h1.Sum * sh; m1 = MinDot(MinDot(m1, ml, p1, 2 * c), mh, p1, 2 * c + 1); }
                if (T.N > 2) { i2 += l2.Sum * sl + h2.Sum * sh; m2 = MinDot(MinDot(m2, ml, p2, 2 * c), mh, p2, 2 * c + 1); }
                if (T.N > 3) { i3 += l3.Sum * sl + h3.Sum * sh; m3 = MinDot(MinDot(m3, ml, p3, 2 * c), mh, p3, 2 * c + 1); }
            }
            var d = TileMath.Halves8(w);
            var dmin = TileMath.Halves8(w + DminOffset);
            a0 = Scale(a0, i0, m0, d, dmin, p0);
            if (T.N > 1) a1 = Scale(a1, i1, m1, d, dmin, p1);
            if (T.N > 2) a2 = Scale(a2, i2, m2, d, dmin, p2);
            if (T.N > 3) a3 = Scale(a3, i3, m3, d, dmin, p3);
        }
        a0.Store(y);
        if (T.N > 1) a1.Store(y + ys);
        if (T.N > 2) a2.Store(y + 2 * ys);
        if (T.N > 3) a3.Store(y + 3 * ys);
    }
}
