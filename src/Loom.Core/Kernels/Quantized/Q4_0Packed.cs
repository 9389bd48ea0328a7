namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q4_0 in tiles of eight rows × one block (144 bytes, the same as eight blocks): the eight f16 scales, then four
/// 32-byte chunks. In chunk c, bytes 4r..4r+3 belong to row r: their low nibbles are the row's elements 8c..8c+3,
/// their high nibbles elements 8c+4..8c+7. A mask (or a shift) turns a chunk into eight rows × four quants, one row
/// per 32-bit lane, which vpdpbusd multiplies with four broadcast activation bytes: every lane sums one row, so a
/// block ends in one vector of eight row sums that needs no horizontal reduction, and the scale work (convert,
/// multiply, accumulate) is done once per eight rows instead of once per row.
/// </summary>
/// <remarks>
/// Quants stay unsigned (0..15); the −8 offset enters exactly as the integer sum's starting value −8·Σx, from the
/// <see cref="PackedActivations"/> block. Per row and token, acc = fma((float)isum, d_w·d_x, acc) block by block:
/// <see cref="ReferenceDot"/> is that order in scalar code, and the kernel equals it bit for bit.
/// </remarks>
public static unsafe class Q4_0Packed
{
    public const int TileBlockBytes = 16 + 128;

    /// <summary>The single-tile kernels run on AVX2 (with VNNI where present) and ARM64; the pair kernels need AVX-512 and VNNI.</summary>
    public static bool IsSupported => TileMath.IsSupported;

    /// <summary>
    /// Packs eight rows (<paramref name="rowBytes"/> apart) of <paramref name="blocks"/> blocks each, one tile block
    /// every <paramref name="blockStride"/> bytes (<see cref="TileBlockBytes"/>, or twice that for a tile pair's
    /// interleaved layout, see <see cref="PackedMatrix"/>).
    /// </summary>
    public static void Pack(byte* rows, nint rowBytes, int blocks, byte* dst, nint blockStride)
    {
        for (int b = 0; b < blocks; b++, dst += blockStride)
            for (int r = 0; r < 8; r++)
            {
                byte* src = rows + r * rowBytes + b * Q4_0.BlockBytes;
                ((ushort*)dst)[r] = *(ushort*)src;
                for (int c = 0; c < 4; c++)
                    for (int j = 0; j < 4; j++)
                        dst[16 + 32 * c + 4 * r + j] = (byte)(Element(src + 2, 8 * c + j) | Element(src + 2, 8 * c + 4 + j) << 4);
            }
    }

    private static int Element(byte* qs, int e) => e < 16 ? qs[e] & 0x0F : qs[e - 16] >> 4;

    /// <summary>
    /// One row against one Q8_0 activation row, summed in the packed kernels' order: per block the exact integer
    /// Σ(q−8)·x, then acc = fma(isum, d_w·d_x, acc).
    /// </summary>
    public static float ReferenceDot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        float acc = 0;
        for (int b = 0; b < n / Q4_0.BlockSize; b++)
        {
            var wb = w.Slice(b * Q4_0.BlockBytes, Q4_0.BlockBytes);
            var xb = x.Slice(b * Q8_0.BlockBytes, Q8_0.BlockBytes);
            int isum = 0;
            for (int j = 0; j < 16; j++)
                isum += ((wb[2 + j] & 0x0F) - 8) * (sbyte)xb[2 + j] + ((wb[2 + j] >> 4) - 8) * (sbyte)xb[18 + j];
            acc = MathF.FusedMultiplyAdd(isum, QuantMath.ReadHalf(wb, 0) * QuantMath.ReadHalf(xb, 0), acc);
        }
        return acc;
    }

    /// <inheritdoc cref="PackedTileKernel"/>
    public static void Mul(byte* tile, int blocks, byte* x, nint xRowBytes, int tokens, float* y, nint yStride) =>
        TileMath.ByTokens(&Tokens<FourTokens>, &Tokens<ThreeTokens>, &Tokens<TwoTokens>, &Token1, tile, blocks, x, xRowBytes, tokens, y, yStride);

    private static void Token1(byte* w, int blocks, byte* x, float* y)
    {
        var mask = Vector256.Create((byte)0x0F);
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++, w += TileBlockBytes, x += PackedActivations.BlockBytes)
        {
            TileMath.Prefetch(w, TileMath.StreamAhead, TileBlockBytes);
            var i0 = new NibbleDot(PackedActivations.Start(x, -8));
            var i1 = new NibbleDot(Vector256<int>.Zero);
            for (int c = 0; c < 4; c++)
            {
                var v = Vector256.Load(w + 16 + 32 * c);
                i0.Add(v & mask, x + 8 * c);
                i1.Add(TileMath.High(v, mask), x + 8 * c + 4);
            }
            var isum = TileMath.HighShift == 0 ? (i0 + i1).Sum : i0.Sum + Vector256.ShiftRightArithmetic(i1.Sum, TileMath.HighShift);
            acc = PackedActivations.Scale(acc, isum, TileMath.Halves8(w), x);
        }
        acc.Store(y);
    }

    /// <summary>A tile pair (16 rows, blocks interleaved) × any number of tokens (a <see cref="PackedPairKernel"/>).</summary>
    public static void MulPair(byte* tile, int blocks, byte* x, nint xRowBytes, int tokens, float* y, nint yStride) =>
        TileMath.ByTokens(&Tiles2Tokens4, &Tiles2Token1, tile, blocks, x, xRowBytes, tokens, y, yStride);

    /// <summary>A tile pair × one token: each broadcast and activation scale serves 16 rows.</summary>
    private static void Tiles2Token1(byte* w, int blocks, byte* x, float* y)
    {
        // High nibbles are taken in place (16·q, no shift): their sums come out ×16 and are shifted back once per
        // block, exactly, since every term is a multiple of 16.
        var mask = Vector256.Create((byte)0x0F);
        Vector256<float> a = default, c = default;
        for (int b = 0; b < blocks; b++, w += 2 * TileBlockBytes, x += PackedActivations.BlockBytes)
        {
            var i0 = PackedActivations.Start(x, -8); var j0 = i0; var i1 = Vector256<int>.Zero; var j1 = i1;
            Vector256<byte> va, vb; Vector256<sbyte> s;
            va = Vector256.Load(w + 16); vb = Vector256.Load(w + TileBlockBytes + 16);
            s = Vector256.Create(*(int*)(x + 0)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, va & mask, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, vb & mask, s);
            s = Vector256.Create(*(int*)(x + 4)).AsSByte();
            i1 = AvxVnni.MultiplyWideningAndAdd(i1, Vector256.AndNot(va, mask), s);
            j1 = AvxVnni.MultiplyWideningAndAdd(j1, Vector256.AndNot(vb, mask), s);
            va = Vector256.Load(w + 48); vb = Vector256.Load(w + TileBlockBytes + 48);
            s = Vector256.Create(*(int*)(x + 8)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, va & mask, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, vb & mask, s);
            s = Vector256.Create(*(int*)(x + 12)).AsSByte();
            i1 = AvxVnni.MultiplyWideningAndAdd(i1, Vector256.AndNot(va, mask), s);
            j1 = AvxVnni.MultiplyWideningAndAdd(j1, Vector256.AndNot(vb, mask), s);
            va = Vector256.Load(w + 80); vb = Vector256.Load(w + TileBlockBytes + 80);
            s = Vector256.Create(*(int*)(x + 16)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, va & mask, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, vb & mask, s);
            s = Vector256.Create(*(int*)(x + 20)).AsSByte();
            i1 = AvxVnni.MultiplyWideningAndAdd(i1, Vector256.AndNot(va, mask), s);
            j1 = AvxVnni.MultiplyWideningAndAdd(j1, Vector256.AndNot(vb, mask), s);
            va = Vector256.Load(w + 112); vb = Vector256.Load(w + TileBlockBytes + 112);
            s = Vector256.Create(*(int*)(x + 24)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, va & mask, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, vb & mask, s);
            s = Vector256.Create(*(int*)(x + 28)).AsSByte();
            i1 = AvxVnni.MultiplyWideningAndAdd(i1, Vector256.AndNot(va, mask), s);
            j1 = AvxVnni.MultiplyWideningAndAdd(j1, Vector256.AndNot(vb, mask), s);
            // Two 256-bit halves rather than one 512-bit vector: joining them each block ties every block's
            // insert to the one before and halves the speed.
            var dx = Vector256.Create(*(float*)(x + 32));
            a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0 + Vector256.ShiftRightArithmetic(i1, 4)), TileMath.Halves8(w) * dx, a);
            c = Fma.MultiplyAdd(Avx.ConvertToVector256Single(j0 + Vector256.ShiftRightArithmetic(j1, 4)), TileMath.Halves8(w + TileBlockBytes) * dx, c);
        }
        a.Store(y);
        c.Store(y + 8);
    }

    /// <summary>A tile pair × four tokens: each broadcast serves both tiles.</summary>
    private static void Tiles2Tokens4(byte* w, int blocks, byte* x, nint xs, float* y, nint ys)
    {
        var mask = Vector256.Create((byte)0x0F);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        byte* x1 = x + xs, x2 = x + 2 * xs, x3 = x + 3 * xs;
        for (int b = 0; b < blocks; b++, w += 2 * TileBlockBytes)
        {
            nint o = b * PackedActivations.BlockBytes;
            byte* p0 = x + o, p1 = x1 + o, p2 = x2 + o, p3 = x3 + o;
            var i0 = PackedActivations.Start(p0, -8); var i1 = PackedActivations.Start(p1, -8); var i2 = PackedActivations.Start(p2, -8); var i3 = PackedActivations.Start(p3, -8);
            var j0 = i0; var j1 = i1; var j2 = i2; var j3 = i3;
            Vector256<byte> la, lb; Vector256<sbyte> s;
            var va0 = Vector256.Load(w + 16); var vb0 = Vector256.Load(w + TileBlockBytes + 16);
            la = va0 & mask; lb = vb0 & mask;
            s = Vector256.Create(*(int*)(p0 + 0)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, la, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, lb, s);
            s = Vector256.Create(*(int*)(p1 + 0)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, la, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, lb, s);
            s = Vector256.Create(*(int*)(p2 + 0)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, la, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, lb, s);
            s = Vector256.Create(*(int*)(p3 + 0)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, la, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, lb, s);
            la = Vector256.ShiftRightLogical(va0.AsUInt16(), 4).AsByte() & mask; lb = Vector256.ShiftRightLogical(vb0.AsUInt16(), 4).AsByte() & mask;
            s = Vector256.Create(*(int*)(p0 + 4)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, la, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, lb, s);
            s = Vector256.Create(*(int*)(p1 + 4)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, la, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, lb, s);
            s = Vector256.Create(*(int*)(p2 + 4)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, la, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, lb, s);
            s = Vector256.Create(*(int*)(p3 + 4)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, la, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, lb, s);
            var va1 = Vector256.Load(w + 48); var vb1 = Vector256.Load(w + TileBlockBytes + 48);
            la = va1 & mask; lb = vb1 & mask;
            s = Vector256.Create(*(int*)(p0 + 8)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, la, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, lb, s);
            s = Vector256.Create(*(int*)(p1 + 8)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, la, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, lb, s);
            s = Vector256.Create(*(int*)(p2 + 8)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, la, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, lb, s);
            s = Vector256.Create(*(int*)(p3 + 8)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, la, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, lb, s);
            la = Vector256.ShiftRightLogical(va1.AsUInt16(), 4).AsByte() & mask; lb = Vector256.ShiftRightLogical(vb1.AsUInt16(), 4).AsByte() & mask;
            s = Vector256.Create(*(int*)(p0 + 12)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, la, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, lb, s);
            s = Vector256.Create(*(int*)(p1 + 12)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, la, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, lb, s);
            s = Vector256.Create(*(int*)(p2 + 12)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, la, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, lb, s);
            s = Vector256.Create(*(int*)(p3 + 12)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, la, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, lb, s);
            var va2 = Vector256.Load(w + 80); var vb2 = Vector256.Load(w + TileBlockBytes + 80);
            la = va2 & mask; lb = vb2 & mask;
            s = Vector256.Create(*(int*)(p0 + 16)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, la, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, lb, s);
            s = Vector256.Create(*(int*)(p1 + 16)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, la, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, lb, s);
            s = Vector256.Create(*(int*)(p2 + 16)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, la, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, lb, s);
            s = Vector256.Create(*(int*)(p3 + 16)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, la, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, lb, s);
            la = Vector256.ShiftRightLogical(va2.AsUInt16(), 4).AsByte() & mask; lb = Vector256.ShiftRightLogical(vb2.AsUInt16(), 4).AsByte() & mask;
            s = Vector256.Create(*(int*)(p0 + 20)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, la, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, lb, s);
            s = Vector256.Create(*(int*)(p1 + 20)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, la, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, lb, s);
            s = Vector256.Create(*(int*)(p2 + 20)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, la, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, lb, s);
            s = Vector256.Create(*(int*)(p3 + 20)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, la, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, lb, s);
            var va3 = Vector256.Load(w + 112); var vb3 = Vector256.Load(w + TileBlockBytes + 112);
            la = va3 & mask; lb = vb3 & mask;
            s = Vector256.Create(*(int*)(p0 + 24)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, la, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, lb, s);
            s = Vector256.Create(*(int*)(p1 + 24)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, la, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, lb, s);
            s = Vector256.Create(*(int*)(p2 + 24)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, la, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, lb, s);
            s = Vector256.Create(*(int*)(p3 + 24)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, la, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, lb, s);
            la = Vector256.ShiftRightLogical(va3.AsUInt16(), 4).AsByte() & mask; lb = Vector256.ShiftRightLogical(vb3.AsUInt16(), 4).AsByte() & mask;
            s = Vector256.Create(*(int*)(p0 + 28)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, la, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, lb, s);
            s = Vector256.Create(*(int*)(p1 + 28)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, la, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, lb, s);
            s = Vector256.Create(*(int*)(p2 + 28)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, la, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, lb, s);
            s = Vector256.Create(*(int*)(p3 + 28)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, la, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, lb, s);
            var dw = Vector512.Create(TileMath.Halves8(w), TileMath.Halves8(w + TileBlockBytes));
            a0 = PackedActivations.Scale16(a0, i0, j0, dw, p0); a1 = PackedActivations.Scale16(a1, i1, j1, dw, p1);
            a2 = PackedActivations.Scale16(a2, i2, j2, dw, p2); a3 = PackedActivations.Scale16(a3, i3, j3, dw, p3);
        }
        a0.Store(y); a1.Store(y + ys); a2.Store(y + 2 * ys); a3.Store(y + 3 * ys);
    }

    private static void Tokens<T>(byte* w, int blocks, byte* x, nint xs, float* y, nint ys) where T : struct, ITokenCount
    {
        var mask = Vector256.Create((byte)0x0F);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        byte* x1 = x + xs, x2 = x + 2 * xs, x3 = x + 3 * xs;
        for (int b = 0; b < blocks; b++, w += TileBlockBytes)
        {
            TileMath.Prefetch(w, TileMath.StreamAhead, TileBlockBytes);
            nint o = b * PackedActivations.BlockBytes;
            var i0 = new NibbleDot(PackedActivations.Start(x + o, -8));
            NibbleDot i1 = default, i2 = default, i3 = default;
            if (T.N > 1) i1 = new NibbleDot(PackedActivations.Start(x1 + o, -8));
            if (T.N > 2) i2 = new NibbleDot(PackedActivations.Start(x2 + o, -8));
            if (T.N > 3) i3 = new NibbleDot(PackedActivations.Start(x3 + o, -8));
            for (int c = 0; c < 4; c++)
            {
                var v = Vector256.Load(w + 16 + 32 * c);
                var lo = v & mask;
                var hi = Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask;
                nint e = o + 8 * c;
                i0.Add(lo, x + e);
                if (T.N > 1) i1.Add(lo, x1 + e);
                if (T.N > 2) i2.Add(lo, x2 + e);
                if (T.N > 3) i3.Add(lo, x3 + e);
                i0.Add(hi, x + e + 4);
                if (T.N > 1) i1.Add(hi, x1 + e + 4);
                if (T.N > 2) i2.Add(hi, x2 + e + 4);
                if (T.N > 3) i3.Add(hi, x3 + e + 4);
            }
            var dw = TileMath.Halves8(w);
            a0 = PackedActivations.Scale(a0, i0.Sum, dw, x + o);
            if (T.N > 1) a1 = PackedActivations.Scale(a1, i1.Sum, dw, x1 + o);
            if (T.N > 2) a2 = PackedActivations.Scale(a2, i2.Sum, dw, x2 + o);
            if (T.N > 3) a3 = PackedActivations.Scale(a3, i3.Sum, dw, x3 + o);
        }
        a0.Store(y);
        if (T.N > 1) a1.Store(y + ys);
        if (T.N > 2) a2.Store(y + 2 * ys);
        if (T.N > 3) a3.Store(y + 3 * ys);
    }
}
