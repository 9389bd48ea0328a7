using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Loom.Core.Quantization;

namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q8_0 in tiles of four rows × one block (136 bytes): the four f16 scales, then each row's 32 quants stored
/// offset by +128 as unsigned bytes, so vpdpbusd takes them directly and the offset comes out exactly as 128·Σx
/// (once per token and block). Lanes and float accumulation are <see cref="Q8_0Tile"/>'s, so results equal
/// <see cref="Q8_0.DotX86"/> bit for bit.
/// </summary>
public static unsafe class Q8_0Packed
{
    public const int TileBlockBytes = 8 + 4 * 32;

    public static bool IsSupported => AvxVnni.IsSupported;

    /// <summary>Packs four rows (<paramref name="rowBytes"/> apart) of <paramref name="blocks"/> blocks each.</summary>
    public static void Pack(byte* rows, nint rowBytes, int blocks, byte* dst)
    {
        for (int b = 0; b < blocks; b++, dst += TileBlockBytes)
            for (int r = 0; r < 4; r++)
            {
                byte* src = rows + r * rowBytes + b * Q8_0.BlockBytes;
                ((ushort*)dst)[r] = *(ushort*)src;
                for (int j = 0; j < 32; j++) dst[8 + 32 * r + j] = (byte)(src[2 + j] ^ 0x80);
            }
    }

    /// <inheritdoc cref="PackedTileKernel"/>
    public static void Mul(byte* tile, int blocks, byte* x, nint xRowBytes, int tokens, float* y, nint yStride)
    {
        int t = 0;
        for (; t + 4 <= tokens; t += 4) Tokens4(tile, blocks, x + t * xRowBytes, xRowBytes, y + t * yStride, yStride);
        for (; t < tokens; t++) Token1(tile, blocks, x + t * xRowBytes, y + t * yStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Offset(Vector256<sbyte> x) =>
        Vector256<int>.Zero - AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, Vector256.Create((byte)128), x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block(byte* q, Vector256<sbyte> x, Vector256<int> offset, float* scale, Vector256<float> acc) =>
        Fma.MultiplyAdd(Vector256.Create(*scale), Avx.ConvertToVector256Single(AvxVnni.MultiplyWideningAndAdd(offset, Vector256.Load(q), x)), acc);

    private static void Token1(byte* w, int blocks, byte* x, float* y)
    {
        float* s = stackalloc float[4];
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int i = 0; i < blocks; i++, w += TileBlockBytes, x += Q8_0.BlockBytes)
        {
            (TileMath.Halves4(w) * TileMath.Half(x)).Store(s);
            var xv = Vector256.Load((sbyte*)(x + 2));
            var o = Offset(xv);
            a0 = Block(w + 8, xv, o, s, a0);
            a1 = Block(w + 40, xv, o, s + 1, a1);
            a2 = Block(w + 72, xv, o, s + 2, a2);
            a3 = Block(w + 104, xv, o, s + 3, a3);
        }
        TileMath.Store4(y, a0, a1, a2, a3);
    }

    private static void Tokens4(byte* w, int blocks, byte* x, nint xs, float* y, nint ys)
    {
        float* s = stackalloc float[16];
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector256<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector256<float> a30 = default, a31 = default, a32 = default, a33 = default;
        for (int i = 0; i < blocks; i++, w += TileBlockBytes, x += Q8_0.BlockBytes)
        {
            var dw = TileMath.Halves4(w);
            (dw * TileMath.Half(x)).Store(s);
            (dw * TileMath.Half(x + xs)).Store(s + 4);
            (dw * TileMath.Half(x + 2 * xs)).Store(s + 8);
            (dw * TileMath.Half(x + 3 * xs)).Store(s + 12);
            var xv = Vector256.Load((sbyte*)(x + 2)); var o = Offset(xv);
            a00 = Block(w + 8, xv, o, s, a00); a01 = Block(w + 40, xv, o, s + 1, a01); a02 = Block(w + 72, xv, o, s + 2, a02); a03 = Block(w + 104, xv, o, s + 3, a03);
            xv = Vector256.Load((sbyte*)(x + xs + 2)); o = Offset(xv);
            a10 = Block(w + 8, xv, o, s + 4, a10); a11 = Block(w + 40, xv, o, s + 5, a11); a12 = Block(w + 72, xv, o, s + 6, a12); a13 = Block(w + 104, xv, o, s + 7, a13);
            xv = Vector256.Load((sbyte*)(x + 2 * xs + 2)); o = Offset(xv);
            a20 = Block(w + 8, xv, o, s + 8, a20); a21 = Block(w + 40, xv, o, s + 9, a21); a22 = Block(w + 72, xv, o, s + 10, a22); a23 = Block(w + 104, xv, o, s + 11, a23);
            xv = Vector256.Load((sbyte*)(x + 3 * xs + 2)); o = Offset(xv);
            a30 = Block(w + 8, xv, o, s + 12, a30); a31 = Block(w + 40, xv, o, s + 13, a31); a32 = Block(w + 72, xv, o, s + 14, a32); a33 = Block(w + 104, xv, o, s + 15, a33);
        }
        TileMath.Store4(y, a00, a01, a02, a03); y += ys;
        TileMath.Store4(y, a10, a11, a12, a13); y += ys;
        TileMath.Store4(y, a20, a21, a22, a23); y += ys;
        TileMath.Store4(y, a30, a31, a32, a33);
    }
}
