namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q6_K × Q8_K tile kernel on <see cref="TileMath"/>'s helpers (AVX2, AVX-VNNI when present, ARM64). Per super-block and weight row the 6-bit quants are
/// assembled once into eight 32-byte vectors of unsigned values 0..63 and the sixteen int8 scales into i16 splats;
/// every token then costs one vpmaddubsw + one vpdpwssd per 32 weights. The -32 offset is taken out exactly through
/// the activations' bsums (Σ scale_g·(q-32)·x = Σ scale_g·q·x - 32·Σ scale_g·bsum_g), so integer sums are exact and the
/// result differs from <see cref="Q6_K.Dot"/> only in float summation order.
/// </summary>
public static unsafe class Q6_KTile
{
    /// <summary>True when this machine runs the SIMD path.</summary>
    public static bool IsSupported => TileMath.IsSupported;

    /// <summary>A <see cref="TileKernel"/> for Q6_K weights and Q8_K activations.</summary>
    public static void Mul(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride)
    {
        const int QhOffset = 128, ScalesOffset = 192, DOffset = 208, XQs = 4, XBsums = 260;
        int nb = n / Q6_K.BlockSize;
        var acc = stackalloc Vector256<float>[TileKernels.MaxRows * TileKernels.MaxTokens];
        for (int k = 0; k < TileKernels.MaxRows * TileKernels.MaxTokens; k++) acc[k] = Vector256<float>.Zero;
        var low4 = Vector256.Create((byte)0x0F);
        var bits45 = Vector256.Create((byte)0x30);

        for (int i = 0; i < nb; i++)
        {
            byte* xb0 = x + (nint)i * Q8_K.BlockBytes;
            for (int r = 0; r < rows; r++)
            {
                byte* b = w + r * wRowBytes + (nint)i * Q6_K.BlockBytes;
                TileMath.Prefetch(b, rows * wRowBytes, Q6_K.BlockBytes);
                float d = TileMath.Half(b + DOffset);

                var ql0 = Vector256.Load(b);
                var ql1 = Vector256.Load(b + 32);
                var qh = Vector256.Load(b + QhOffset);
                var w0 = Vector256.BitwiseOr(Vector256.BitwiseAnd(ql0, low4), Vector256.BitwiseAnd(Vector256.ShiftLeft(qh.AsUInt16(), 4).AsByte(), bits45));
                var w1 = Vector256.BitwiseOr(Vector256.BitwiseAnd(ql1, low4), Vector256.BitwiseAnd(Vector256.ShiftLeft(qh.AsUInt16(), 2).AsByte(), bits45));
                var w2 = Vector256.BitwiseOr(Vector256.BitwiseAnd(Vector256.ShiftRightLogical(ql0.AsUInt16(), 4).AsByte(), low4), Vector256.BitwiseAnd(qh, bits45));
                var w3 = Vector256.BitwiseOr(Vector256.BitwiseAnd(Vector256.ShiftRightLogical(ql1.AsUInt16(), 4).AsByte(), low4), Vector256.BitwiseAnd(Vector256.ShiftRightLogical(qh.AsUInt16(), 2).AsByte(), bits45));
                ql0 = Vector256.Load(b + 64);
                ql1 = Vector256.Load(b + 96);
                qh = Vector256.Load(b + QhOffset + 32);
                var w4 = Vector256.BitwiseOr(Vector256.BitwiseAnd(ql0, low4), Vector256.BitwiseAnd(Vector256.ShiftLeft(qh.AsUInt16(), 4).AsByte(), bits45));
                var w5 = Vector256.BitwiseOr(Vector256.BitwiseAnd(ql1, low4), Vector256.BitwiseAnd(Vector256.ShiftLeft(qh.AsUInt16(), 2).AsByte(), bits45));
                var w6 = Vector256.BitwiseOr(Vector256.BitwiseAnd(Vector256.ShiftRightLogical(ql0.AsUInt16(), 4).AsByte(), low4), Vector256.BitwiseAnd(qh, bits45));
                var w7 = Vector256.BitwiseOr(Vector256.BitwiseAnd(Vector256.ShiftRightLogical(ql1.AsUInt16(), 4).AsByte(), low4), Vector256.BitwiseAnd(Vector256.ShiftRightLogical(qh.AsUInt16(), 2).AsByte(), bits45));

                var sc16 = TileMath.SBytes16((sbyte*)(b + ScalesOffset));
                // -32·scale per group of 16, to meet the bsums.
                var offset = Vector256.Subtract(Vector256<short>.Zero, Vector256.ShiftLeft(sc16, 5));
                var lo = Vector256.Create(sc16.GetLower(), sc16.GetLower());
                var hi = Vector256.Create(sc16.GetUpper(), sc16.GetUpper());
                var s0 = TileMath.Splat2(lo, 0, 1);
                var s1 = TileMath.Splat2(lo, 2, 3);
                var s2 = TileMath.Splat2(lo, 4, 5);
                var s3 = TileMath.Splat2(lo, 6, 7);
                var s4 = TileMath.Splat2(hi, 0, 1);
                var s5 = TileMath.Splat2(hi, 2, 3);
                var s6 = TileMath.Splat2(hi, 4, 5);
                var s7 = TileMath.Splat2(hi, 6, 7);

                var a = acc + r * TileKernels.MaxTokens;
                byte* xb = xb0;
                for (int t = 0; t < tokens; t++, xb += xRowBytes)
                {
                    byte* xq = xb + XQs;
                    var even = TileMath.DotAdd(Vector256<int>.Zero, Vector256.Load((short*)(xb + XBsums)), offset);
                    even = TileMath.DotAdd(even, TileMath.MulPairs(w0, xq), s0);
                    var odd = TileMath.DotAdd(Vector256<int>.Zero, TileMath.MulPairs(w1, xq + 32), s1);
                    even = TileMath.DotAdd(even, TileMath.MulPairs(w2, xq + 64), s2);
                    odd = TileMath.DotAdd(odd, TileMath.MulPairs(w3, xq + 96), s3);
                    even = TileMath.DotAdd(even, TileMath.MulPairs(w4, xq + 128), s4);
                    odd = TileMath.DotAdd(odd, TileMath.MulPairs(w5, xq + 160), s5);
                    even = TileMath.DotAdd(even, TileMath.MulPairs(w6, xq + 192), s6);
                    odd = TileMath.DotAdd(odd, TileMath.MulPairs(w7, xq + 224), s7);
                    a[t] = TileMath.MulAdd(TileMath.ToFloat(Vector256.Add(even, odd)), Vector256.Create(d * *(float*)xb), a[t]);
                }
            }
        }
        TileMath.Store(acc, rows, tokens, y, yStride);
    }
}
