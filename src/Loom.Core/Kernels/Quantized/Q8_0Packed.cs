namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q8_0 in tiles of eight rows × one block (272 bytes, the same as eight blocks): the eight f16 scales, then eight
/// 32-byte chunks; in chunk g, bytes 4r..4r+3 are row r's elements 4g..4g+3. Quants are stored offset by +128 as
/// unsigned bytes, so vpdpbusd takes them directly against four broadcast activation bytes, one row per lane, and
/// the offset comes out exactly as the integer sum's starting value −128·Σx (see <see cref="Q4_0Packed"/> for the
/// layout's reasoning). Results equal <see cref="ReferenceDot"/> bit for bit.
/// </summary>
public static unsafe class Q8_0Packed
{
    public const int TileBlockBytes = 16 + 256;

    /// <summary>The single-tile kernels run on AVX2 (with VNNI where present) and ARM64; the pair kernels need AVX-512 and VNNI.</summary>
    public static bool IsSupported => TileMath.IsSupported;

    /// <summary>
    /// The integer sum's starting value per Σx: −128 undoes the +128 storage offset where vpdpbusd takes the stored
    /// bytes as they are. Without VNNI, 255·x pairs would saturate vpmaddubsw's i16 sums, so the kernels recover the
    /// signed weight (one xor per chunk) and take signed products (<see cref="TileMath.DotSigned"/>), starting from 0.
    /// </summary>
    private static int Offset => AvxVnni.IsSupported ? -128 : 0;

    /// <summary>
    /// A chunk as <see cref="Dot"/> takes it: the stored bytes with VNNI, |w| with AVX2 (once per chunk, shared by
    /// the tokens); <paramref name="w"/> is the signed weight.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Unsigned(Vector256<byte> v, out Vector256<sbyte> w)
    {
        w = (v ^ Vector256.Create((byte)0x80)).AsSByte();
        return AvxVnni.IsSupported ? v : Avx2.IsSupported ? Avx2.Abs(w) : default;
    }

    /// <summary>acc + the chunk's eight rows × four activation bytes at <paramref name="x"/>, one row per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> w, byte* x)
    {
        var s = Vector256.Create(*(int*)x).AsSByte();
        if (AvxVnni.IsSupported) return TileMath.Dot4(acc, u, s);
        return Avx2.IsSupported ? TileMath.Dot4(acc, u, Avx2.Sign(s, w)) : TileMath.DotSigned(acc, w, s);
    }

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
                byte* src = rows + r * rowBytes + b * Q8_0.BlockBytes;
                ((ushort*)dst)[r] = *(ushort*)src;
                for (int e = 0; e < 32; e++) dst[16 + 32 * (e / 4) + 4 * r + e % 4] = (byte)(src[2 + e] ^ 0x80);
            }
    }

    /// <summary>
    /// One row against one Q8_0 activation row, summed in the packed kernels' order: per block the exact integer
    /// Σw·x, then acc = fma(isum, d_w·d_x, acc).
    /// </summary>
    public static float ReferenceDot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        float acc = 0;
        for (int b = 0; b < n / Q8_0.BlockSize; b++)
        {
            var wb = w.Slice(b * Q8_0.BlockBytes, Q8_0.BlockBytes);
            var xb = x.Slice(b * Q8_0.BlockBytes, Q8_0.BlockBytes);
            int isum = 0;
            for (int j = 0; j < 32; j++) isum += (sbyte)wb[2 + j] * (sbyte)xb[2 + j];
            acc = MathF.FusedMultiplyAdd(isum, QuantMath.ReadHalf(wb, 0) * QuantMath.ReadHalf(xb, 0), acc);
        }
        return acc;
    }

    /// <inheritdoc cref="PackedTileKernel"/>
    public static void Mul(byte* tile, int blocks, byte* x, nint xRowBytes, int tokens, float* y, nint yStride) =>
        TileMath.ByTokens(&Tokens<FourTokens>, &Tokens<ThreeTokens>, &Tokens<TwoTokens>, &Token1, tile, blocks, x, xRowBytes, tokens, y, yStride);

    private static void Token1(byte* w, int blocks, byte* x, float* y)
    {
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++, w += TileBlockBytes, x += PackedActivations.BlockBytes)
        {
            TileMath.Prefetch(w, TileMath.StreamAhead, TileBlockBytes);
            var i0 = PackedActivations.Start(x, Offset);
            var i1 = Vector256<int>.Zero;
            for (int g = 0; g < 8; g += 2)
            {
                var u0 = Unsigned(Vector256.Load(w + 16 + 32 * g), out var w0);
                var u1 = Unsigned(Vector256.Load(w + 48 + 32 * g), out var w1);
                i0 = Dot(i0, u0, w0, x + 4 * g);
                i1 = Dot(i1, u1, w1, x + 4 * g + 4);
            }
            acc = PackedActivations.Scale(acc, i0 + i1, TileMath.Halves8(w), x);
        }
        acc.Store(y);
    }

    /// <summary>A tile pair (16 rows, blocks interleaved) × any number of tokens (a <see cref="PackedPairKernel"/>).</summary>
    public static void MulPair(byte* tile, int blocks, byte* x, nint xRowBytes, int tokens, float* y, nint yStride) =>
        TileMath.ByTokens(&Tiles2Tokens4, &Tiles2Token1, tile, blocks, x, xRowBytes, tokens, y, yStride);

    /// <summary>A tile pair × one token: each broadcast and activation scale serves 16 rows.</summary>
    private static void Tiles2Token1(byte* w, int blocks, byte* x, float* y)
    {
        Vector256<float> a = default, c = default;
        for (int b = 0; b < blocks; b++, w += 2 * TileBlockBytes, x += PackedActivations.BlockBytes)
        {
            var i0 = PackedActivations.Start(x, -128); var j0 = i0; var i1 = Vector256<int>.Zero; var j1 = i1;
            Vector256<sbyte> s;
            s = Vector256.Create(*(int*)(x + 0)).AsSByte();
            i0 = AvxVnni.MultiplyWideningAndAdd(i0, Vector256.Load(w + 16), s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, Vector256.Load(w + TileBlockBytes + 16), s);
            s = Vector256.Create(*(int*)(x + 4)).AsSByte();
            i1 = AvxVnni.MultiplyWideningAndAdd(i1, Vector256.Load(w + 48), s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, Vector256.Load(w + TileBlockBytes + 48), s);
            s = Vector256.Create(*(int*)(x + 8)).AsSByte();
            i0 = AvxVnni.MultiplyWideningAndAdd(i0, Vector256.Load(w + 80), s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, Vector256.Load(w + TileBlockBytes + 80), s);
            s = Vector256.Create(*(int*)(x + 12)).AsSByte();
            i1 = AvxVnni.MultiplyWideningAndAdd(i1, Vector256.Load(w + 112), s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, Vector256.Load(w + TileBlockBytes + 112), s);
            s = Vector256.Create(*(int*)(x + 16)).AsSByte();
            i0 = AvxVnni.MultiplyWideningAndAdd(i0, Vector256.Load(w + 144), s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, Vector256.Load(w + TileBlockBytes + 144), s);
            s = Vector256.Create(*(int*)(x + 20)).AsSByte();
            i1 = AvxVnni.MultiplyWideningAndAdd(i1, Vector256.Load(w + 176), s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, Vector256.Load(w + TileBlockBytes + 176), s);
            s = Vector256.Create(*(int*)(x + 24)).AsSByte();
            i0 = AvxVnni.MultiplyWideningAndAdd(i0, Vector256.Load(w + 208), s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, Vector256.Load(w + TileBlockBytes + 208), s);
            s = Vector256.Create(*(int*)(x + 28)).AsSByte();
            i1 = AvxVnni.MultiplyWideningAndAdd(i1, Vector256.Load(w + 240), s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, Vector256.Load(w + TileBlockBytes + 240), s);
            // Two 256-bit halves rather than one 512-bit vector: joining them each block ties every block's
            // insert to the one before and halves the speed.
            var dx = Vector256.Create(*(float*)(x + 32));
            a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0 + i1), TileMath.Halves8(w) * dx, a);
            c = Fma.MultiplyAdd(Avx.ConvertToVector256Single(j0 + j1), TileMath.Halves8(w + TileBlockBytes) * dx, c);
        }
        a.Store(y);
        c.Store(y + 8);
    }

    /// <summary>A tile pair × four tokens: each broadcast serves both tiles.</summary>
    private static void Tiles2Tokens4(byte* w, int blocks, byte* x, nint xs, float* y, nint ys)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        byte* x1 = x + xs, x2 = x + 2 * xs, x3 = x + 3 * xs;
        for (int b = 0; b < blocks; b++, w += 2 * TileBlockBytes)
        {
            nint o = b * PackedActivations.BlockBytes;
            byte* p0 = x + o, p1 = x1 + o, p2 = x2 + o, p3 = x3 + o;
            var i0 = PackedActivations.Start(p0, -128); var i1 = PackedActivations.Start(p1, -128); var i2 = PackedActivations.Start(p2, -128); var i3 = PackedActivations.Start(p3, -128);
            var j0 = i0; var j1 = i1; var j2 = i2; var j3 = i3;
            Vector256<byte> va, vb; Vector256<sbyte> s;
            va = Vector256.Load(w + 16); vb = Vector256.Load(w + TileBlockBytes + 16);
            s = Vector256.Create(*(int*)(p0 + 0)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, va, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, vb, s);
            s = Vector256.Create(*(int*)(p1 + 0)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, va, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, vb, s);
            s = Vector256.Create(*(int*)(p2 + 0)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, va, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, vb, s);
            s = Vector256.Create(*(int*)(p3 + 0)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, va, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, vb, s);
            va = Vector256.Load(w + 48); vb = Vector256.Load(w + TileBlockBytes + 48);
            s = Vector256.Create(*(int*)(p0 + 4)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, va, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, vb, s);
            s = Vector256.Create(*(int*)(p1 + 4)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, va, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, vb, s);
            s = Vector256.Create(*(int*)(p2 + 4)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, va, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, vb, s);
            s = Vector256.Create(*(int*)(p3 + 4)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, va, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, vb, s);
            va = Vector256.Load(w + 80); vb = Vector256.Load(w + TileBlockBytes + 80);
            s = Vector256.Create(*(int*)(p0 + 8)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, va, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, vb, s);
            s = Vector256.Create(*(int*)(p1 + 8)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, va, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, vb, s);
            s = Vector256.Create(*(int*)(p2 + 8)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, va, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, vb, s);
            s = Vector256.Create(*(int*)(p3 + 8)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, va, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, vb, s);
            va = Vector256.Load(w + 112); vb = Vector256.Load(w + TileBlockBytes + 112);
            s = Vector256.Create(*(int*)(p0 + 12)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, va, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, vb, s);
            s = Vector256.Create(*(int*)(p1 + 12)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, va, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, vb, s);
            s = Vector256.Create(*(int*)(p2 + 12)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, va, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, vb, s);
            s = Vector256.Create(*(int*)(p3 + 12)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, va, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, vb, s);
            va = Vector256.Load(w + 144); vb = Vector256.Load(w + TileBlockBytes + 144);
            s = Vector256.Create(*(int*)(p0 + 16)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, va, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, vb, s);
            s = Vector256.Create(*(int*)(p1 + 16)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, va, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, vb, s);
            s = Vector256.Create(*(int*)(p2 + 16)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, va, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, vb, s);
            s = Vector256.Create(*(int*)(p3 + 16)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, va, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, vb, s);
            va = Vector256.Load(w + 176); vb = Vector256.Load(w + TileBlockBytes + 176);
            s = Vector256.Create(*(int*)(p0 + 20)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, va, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, vb, s);
            s = Vector256.Create(*(int*)(p1 + 20)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, va, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, vb, s);
            s = Vector256.Create(*(int*)(p2 + 20)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, va, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, vb, s);
            s = Vector256.Create(*(int*)(p3 + 20)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, va, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, vb, s);
            va = Vector256.Load(w + 208); vb = Vector256.Load(w + TileBlockBytes + 208);
            s = Vector256.Create(*(int*)(p0 + 24)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, va, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, vb, s);
            s = Vector256.Create(*(int*)(p1 + 24)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, va, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, vb, s);
            s = Vector256.Create(*(int*)(p2 + 24)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, va, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, vb, s);
            s = Vector256.Create(*(int*)(p3 + 24)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, va, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, vb, s);
            va = Vector256.Load(w + 240); vb = Vector256.Load(w + TileBlockBytes + 240);
            s = Vector256.Create(*(int*)(p0 + 28)).AsSByte(); i0 = AvxVnni.MultiplyWideningAndAdd(i0, va, s); j0 = AvxVnni.MultiplyWideningAndAdd(j0, vb, s);
            s = Vector256.Create(*(int*)(p1 + 28)).AsSByte(); i1 = AvxVnni.MultiplyWideningAndAdd(i1, va, s); j1 = AvxVnni.MultiplyWideningAndAdd(j1, vb, s);
            s = Vector256.Create(*(int*)(p2 + 28)).AsSByte(); i2 = AvxVnni.MultiplyWideningAndAdd(i2, va, s); j2 = AvxVnni.MultiplyWideningAndAdd(j2, vb, s);
            s = Vector256.Create(*(int*)(p3 + 28)).AsSByte(); i3 = AvxVnni.MultiplyWideningAndAdd(i3, va, s); j3 = AvxVnni.MultiplyWideningAndAdd(j3, vb, s);
            var dw = Vector512.Create(TileMath.Halves8(w), TileMath.Halves8(w + TileBlockBytes));
            a0 = PackedActivations.Scale16(a0, i0, j0, dw, p0); a1 = PackedActivations.Scale16(a1, i1, j1, dw, p1);
            a2 = PackedActivations.Scale16(a2, i2, j2, dw, p2); a3 = PackedActivations.Scale16(a3, i3, j3, dw, p3);
        }
        a0.Store(y); a1.Store(y + ys); a2.Store(y + 2 * ys); a3.Store(y + 3 * ys);
    }

    private static void Tokens<T>(byte* w, int blocks, byte* x, nint xs, float* y, nint ys) where T : struct, ITokenCount
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        byte* x1 = x + xs, x2 = x + 2 * xs, x3 = x + 3 * xs;
        for (int b = 0; b < blocks; b++, w += TileBlockBytes)
        {
            TileMath.Prefetch(w, TileMath.StreamAhead, TileBlockBytes);
            nint o = b * PackedActivations.BlockBytes;
            var i0 = PackedActivations.Start(x + o, Offset);
            Vector256<int> i1 = default, i2 = default, i3 = default;
            if (T.N > 1) i1 = PackedActivations.Start(x1 + o, Offset);
            if (T.N > 2) i2 = PackedActivations.Start(x2 + o, Offset);
            if (T.N > 3) i3 = PackedActivations.Start(x3 + o, Offset);
            for (int g = 0; g < 8; g++)
            {
                var u = Unsigned(Vector256.Load(w + 16 + 32 * g), out var q);
                nint e = o + 4 * g;
                i0 = Dot(i0, u, q, x + e);
                if (T.N > 1) i1 = Dot(i1, u, q, x1 + e);
                if (T.N > 2) i2 = Dot(i2, u, q, x2 + e);
                if (T.N > 3) i3 = Dot(i3, u, q, x3 + e);
            }
            var dw = TileMath.Halves8(w);
            a0 = PackedActivations.Scale(a0, i0, dw, x + o);
            if (T.N > 1) a1 = PackedActivations.Scale(a1, i1, dw, x1 + o);
            if (T.N > 2) a2 = PackedActivations.Scale(a2, i2, dw, x2 + o);
            if (T.N > 3) a3 = PackedActivations.Scale(a3, i3, dw, x3 + o);
        }
        a0.Store(y);
        if (T.N > 1) a1.Store(y + ys);
        if (T.N > 2) a2.Store(y + 2 * ys);
        if (T.N > 3) a3.Store(y + 3 * ys);
    }
}
