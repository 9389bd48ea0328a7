using System.Diagnostics.CodeAnalysis;

namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q5_K × Q8_K tile kernel: <see cref="Q4_KTile"/> with the fifth bit of each quant (bit g of qh[l] for group g) put
/// back while unpacking; unsigned 5-bit weights still fit vpmaddubsw exactly. Differs from <see cref="Q5_K.Dot"/> only
/// in float summation order.
/// </summary>
public static unsafe class Q5_KTile
{
    /// <summary>True when this machine runs the SIMD path.</summary>
    public static bool IsSupported => TileMath.IsSupported;

    /// <summary>A <see cref="TileKernel"/> for Q5_K weights and Q8_K activations.</summary>
    public static void Mul(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride)
    {
        const int QhOffset = 16, QsOffset = 48, XQs = 4, XBsums = 260;
        int nb = n / Q5_K.BlockSize;
        var acc = stackalloc Vector256<float>[TileKernels.MaxRows * TileKernels.MaxTokens];
        for (int k = 0; k < TileKernels.MaxRows * TileKernels.MaxTokens; k++) acc[k] = Vector256<float>.Zero;
        var nibble = Vector256.Create((byte)0x0F);

        for (int i = 0; i < nb; i++)
        {
            byte* xb0 = x + (nint)i * Q8_K.BlockBytes;
            for (int r = 0; r < rows; r++)
            {
                byte* b = w + r * wRowBytes + (nint)i * Q5_K.BlockBytes;
                TileMath.Prefetch(b, rows * wRowBytes, Q5_K.BlockBytes);
                float d = TileMath.Half(b), dmin = TileMath.Half(b + 2);
                Q4_KTile.UnpackScales(b + 4, out var scales, out var mins);

                var qh = Vector256.Load(b + QhOffset);
                var q = Vector256.Load(b + QsOffset);
                var w0 = Vector256.BitwiseOr(Vector256.BitwiseAnd(q, nibble), HighBit(qh, 0));
                var w1 = Vector256.BitwiseOr(Vector256.BitwiseAnd(Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte(), nibble), HighBit(qh, 1));
                q = Vector256.Load(b + QsOffset + 32);
                var w2 = Vector256.BitwiseOr(Vector256.BitwiseAnd(q, nibble), HighBit(qh, 2));
                var w3 = Vector256.BitwiseOr(Vector256.BitwiseAnd(Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte(), nibble), HighBit(qh, 3));
                q = Vector256.Load(b + QsOffset + 64);
                var w4 = Vector256.BitwiseOr(Vector256.BitwiseAnd(q, nibble), HighBit(qh, 4));
                var w5 = Vector256.BitwiseOr(Vector256.BitwiseAnd(Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte(), nibble), HighBit(qh, 5));
                q = Vector256.Load(b + QsOffset + 96);
                var w6 = Vector256.BitwiseOr(Vector256.BitwiseAnd(q, nibble), HighBit(qh, 6));
                var w7 = Vector256.BitwiseOr(Vector256.BitwiseAnd(Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte(), nibble), HighBit(qh, 7));

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

    /// <summary>Bit <paramref name="g"/> of each qh byte moved to bit 4 (value 16); the shifts move a lone bit within its byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> HighBit(Vector256<byte> qh, [ConstantExpected(Max = 7)] byte g)
    {
        var bit = Vector256.BitwiseAnd(qh, Vector256.Create((byte)(1 << g))).AsUInt16();
        return (g < 4 ? Vector256.ShiftLeft(bit, (byte)(4 - g)) : Vector256.ShiftRightLogical(bit, (byte)(g - 4))).AsByte();
    }
}
