namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q4_K × Q8_K tile kernel on <see cref="TileMath"/>'s helpers (AVX2, AVX-VNNI when present, ARM64). Per super-block and weight row the 128 nibble bytes are
/// unpacked once into eight 32-byte groups and the 6-bit scales into i16 splats; every token of the tile then costs
/// one vpmaddubsw + one vpdpwssd per group. Group mins are applied through the activations' bsums, so all integer
/// sums are exact and the result differs from <see cref="Q4_K.Dot"/> only in float summation order.
/// </summary>
public static unsafe class Q4_KTile
{
    /// <summary>True when this machine runs the SIMD path.</summary>
    public static bool IsSupported => TileMath.IsSupported;

    /// <summary>A <see cref="TileKernel"/> for Q4_K weights and Q8_K activations.</summary>
    public static void Mul(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride)
    {
        const int QsOffset = 16, XQs = 4, XBsums = 260;
        int nb = n / Q4_K.BlockSize;
        var acc = stackalloc Vector256<float>[TileKernels.MaxRows * TileKernels.MaxTokens];
        for (int k = 0; k < TileKernels.MaxRows * TileKernels.MaxTokens; k++) acc[k] = Vector256<float>.Zero;
        var nibble = Vector256.Create((byte)0x0F);

        for (int i = 0; i < nb; i++)
        {
            byte* xb0 = x + (nint)i * Q8_K.BlockBytes;
            for (int r = 0; r < rows; r++)
            {
                byte* b = w + r * wRowBytes + (nint)i * Q4_K.BlockBytes;
                TileMath.Prefetch(b, rows * wRowBytes, Q4_K.BlockBytes);
                float d = TileMath.Half(b), dmin = TileMath.Half(b + 2);
                UnpackScales(b + 4, out var scales, out var mins);

                var q = Vector256.Load(b + QsOffset);
                var w0 = Vector256.BitwiseAnd(q, nibble);
                var w1 = Vector256.BitwiseAnd(Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte(), nibble);
                q = Vector256.Load(b + QsOffset + 32);
                var w2 = Vector256.BitwiseAnd(q, nibble);
                var w3 = Vector256.BitwiseAnd(Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte(), nibble);
                q = Vector256.Load(b + QsOffset + 64);
                var w4 = Vector256.BitwiseAnd(q, nibble);
                var w5 = Vector256.BitwiseAnd(Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte(), nibble);
                q = Vector256.Load(b + QsOffset + 96);
                var w6 = Vector256.BitwiseAnd(q, nibble);
                var w7 = Vector256.BitwiseAnd(Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte(), nibble);

                var s0 = TileMath.Splat(scales, 0);
                var s1 = TileMath.Splat(scales, 1);
                var s2 = TileMath.Splat(scales, 2);
                var s3 = TileMath.Splat(scales, 3);
                var s4 = TileMath.Splat(scales, 4);
                var s5 = TileMath.Splat(scales, 5);
                var s6 = TileMath.Splat(scales, 6);
                var s7 = TileMath.Splat(scales, 7);

                var a = acc + r * TileKernels.MaxTokens;
                byte* xb = xb0;
                for (int t = 0; t < tokens; t++, xb += xRowBytes)
                {
                    byte* xq = xb + XQs;
                    var even = TileMath.DotAdd(Vector256<int>.Zero, TileMath.MulPairs(w0, xq), s0);
                    var odd = TileMath.DotAdd(Vector256<int>.Zero, TileMath.MulPairs(w1, xq + 32), s1);
                    even = TileMath.DotAdd(even, TileMath.MulPairs(w2, xq + 64), s2);
                    odd = TileMath.DotAdd(odd, TileMath.MulPairs(w3, xq + 96), s3);
                    even = TileMath.DotAdd(even, TileMath.MulPairs(w4, xq + 128), s4);
                    odd = TileMath.DotAdd(odd, TileMath.MulPairs(w5, xq + 160), s5);
                    even = TileMath.DotAdd(even, TileMath.MulPairs(w6, xq + 192), s6);
                    odd = TileMath.DotAdd(odd, TileMath.MulPairs(w7, xq + 224), s7);
                    // Lane g: m_g · (bsum_2g + bsum_2g+1), the group's Σ x weighted by its min.
                    var m = TileMath.DotAdd(Vector256<int>.Zero, Vector256.Load((short*)(xb + XBsums)), mins);
                    float dx = *(float*)xb;
                    var sum = TileMath.MulAdd(TileMath.ToFloat(Vector256.Add(even, odd)), Vector256.Create(d * dx), a[t]);
                    a[t] = TileMath.MulAdd(TileMath.ToFloat(m), Vector256.Create(-dmin * dx), sum);
                }
            }
        }
        TileMath.Store(acc, rows, tokens, y, yStride);
    }

    /// <summary>
    /// Unpacks the 12-byte 6-bit scale/min field (layout in <see cref="KScaleMin"/>): <paramref name="scales"/> holds
    /// the eight scales as i16 in both 128-bit halves; <paramref name="mins"/> holds min g in i16 lanes 2g and 2g+1,
    /// ready to meet the sixteen bsums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void UnpackScales(byte* p, out Vector256<short> scales, out Vector256<short> mins)
    {
        // p[0..11] are the packed fields (p[12..15], the first quants, ride along unused). Gather bytes so that one
        // pass of masks builds [sc0..3, sc4..7, m0..3, m4..7]: low bits from s[0..3], s[8..11], s[4..7], s[8..11]>>4,
        // top two bits of sc4..7 and m4..7 from bits 6-7 of s[0..3] and s[4..7].
        var v = Vector128.Load(p);
        var low = Vector128.Shuffle(v, Vector128.Create((byte)0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
        var top = Vector128.Shuffle(v, Vector128.Create((byte)0x80, 0x80, 0x80, 0x80, 0, 1, 2, 3, 0x80, 0x80, 0x80, 0x80, 4, 5, 6, 7));
        var lowShifted = Vector128.ShiftRightLogical(low.AsUInt16(), 4).AsByte();
        low = Vector128.ConditionalSelect(Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF), lowShifted, low);
        low &= Vector128.Create((byte)63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15);
        var t = low | (Vector128.ShiftRightLogical(top.AsUInt16(), 2).AsByte() & Vector128.Create((byte)0x30));
        var sc16 = Vector128.WidenLower(t).AsInt16();
        scales = Vector256.Create(sc16, sc16);
        var m = Vector128.Shuffle(t, Vector128.Create((byte)8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
        mins = Vector256.Create(Vector128.WidenLower(m), Vector128.WidenUpper(m)).AsInt16();
    }
}
