using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Loom.Core.Quantization;

namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q4_0 in tiles of four rows × one block (72 bytes): the four f16 scales, then 32 bytes holding rows 0 and 1
/// (byte j: row 0's element j in the low nibble, row 1's in the high nibble), then 32 bytes for rows 2 and 3.
/// One load, mask and shift yield two rows' 32 quants in element order. The arithmetic is
/// <see cref="Q4_0Tile"/>'s, so results equal <see cref="Q4_0.DotX86"/> bit for bit.
/// </summary>
public static unsafe class Q4_0Packed
{
    public const int TileBlockBytes = 8 + 64;

    public static bool IsSupported => AvxVnni.IsSupported;

    /// <summary>Packs four rows (<paramref name="rowBytes"/> apart) of <paramref name="blocks"/> blocks each.</summary>
    public static void Pack(byte* rows, nint rowBytes, int blocks, byte* dst)
    {
        for (int b = 0; b < blocks; b++, dst += TileBlockBytes)
        {
            for (int r = 0; r < 4; r++) ((ushort*)dst)[r] = *(ushort*)(rows + r * rowBytes + b * Q4_0.BlockBytes);
            for (int pair = 0; pair < 2; pair++)
            {
                byte* lo = rows + 2 * pair * rowBytes + b * Q4_0.BlockBytes + 2, hi = lo + rowBytes;
                for (int j = 0; j < 32; j++)
                    dst[8 + 32 * pair + j] = (byte)(Nibble(lo, j) | (Nibble(hi, j) << 4));
            }
        }
    }

    private static int Nibble(byte* qs, int j) => j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4;

    /// <inheritdoc cref="PackedTileKernel"/>
    public static void Mul(byte* tile, int blocks, byte* x, nint xRowBytes, int tokens, float* y, nint yStride)
    {
        int t = 0;
        for (; t + 4 <= tokens; t += 4) Tokens4(tile, blocks, x + t * xRowBytes, xRowBytes, y + t * yStride, yStride);
        for (; t < tokens; t++) Token1(tile, blocks, x + t * xRowBytes, y + t * yStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Offset(Vector256<sbyte> x) =>
        Vector256<int>.Zero - AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, Vector256.Create((byte)8), x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block(Vector256<byte> q, Vector256<sbyte> x, Vector256<int> offset, float* scale, Vector256<float> acc) =>
        Fma.MultiplyAdd(Vector256.Create(*scale), Avx.ConvertToVector256Single(AvxVnni.MultiplyWideningAndAdd(offset, q, x)), acc);

    private static void Token1(byte* w, int blocks, byte* x, float* y)
    {
        float* s = stackalloc float[4];
        var mask = Vector256.Create((byte)0x0F);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int i = 0; i < blocks; i++, w += TileBlockBytes, x += Q8_0.BlockBytes)
        {
            (TileMath.Halves4(w) * TileMath.Half(x)).Store(s);
            var p01 = Vector256.Load(w + 8);
            var p23 = Vector256.Load(w + 40);
            var xv = Vector256.Load((sbyte*)(x + 2));
            var o = Offset(xv);
            a0 = Block(p01 & mask, xv, o, s, a0);
            a1 = Block(Vector256.ShiftRightLogical(p01.AsUInt16(), 4).AsByte() & mask, xv, o, s + 1, a1);
            a2 = Block(p23 & mask, xv, o, s + 2, a2);
            a3 = Block(Vector256.ShiftRightLogical(p23.AsUInt16(), 4).AsByte() & mask, xv, o, s + 3, a3);
        }
        y[0] = TileMath.Sum(a0); y[1] = TileMath.Sum(a1);
        y[2] = TileMath.Sum(a2); y[3] = TileMath.Sum(a3);
    }

    private static void Tokens4(byte* w, int blocks, byte* x, nint xs, float* y, nint ys)
    {
        float* s = stackalloc float[16];
        var mask = Vector256.Create((byte)0x0F);
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
            var p01 = Vector256.Load(w + 8);
            var p23 = Vector256.Load(w + 40);
            var q0 = p01 & mask; var q1 = Vector256.ShiftRightLogical(p01.AsUInt16(), 4).AsByte() & mask;
            var q2 = p23 & mask; var q3 = Vector256.ShiftRightLogical(p23.AsUInt16(), 4).AsByte() & mask;
            var xv = Vector256.Load((sbyte*)(x + 2)); var o = Offset(xv);
            a00 = Block(q0, xv, o, s, a00); a01 = Block(q1, xv, o, s + 1, a01); a02 = Block(q2, xv, o, s + 2, a02); a03 = Block(q3, xv, o, s + 3, a03);
            xv = Vector256.Load((sbyte*)(x + xs + 2)); o = Offset(xv);
            a10 = Block(q0, xv, o, s + 4, a10); a11 = Block(q1, xv, o, s + 5, a11); a12 = Block(q2, xv, o, s + 6, a12); a13 = Block(q3, xv, o, s + 7, a13);
            xv = Vector256.Load((sbyte*)(x + 2 * xs + 2)); o = Offset(xv);
            a20 = Block(q0, xv, o, s + 8, a20); a21 = Block(q1, xv, o, s + 9, a21); a22 = Block(q2, xv, o, s + 10, a22); a23 = Block(q3, xv, o, s + 11, a23);
            xv = Vector256.Load((sbyte*)(x + 3 * xs + 2)); o = Offset(xv);
            a30 = Block(q0, xv, o, s + 12, a30); a31 = Block(q1, xv, o, s + 13, a31); a32 = Block(q2, xv, o, s + 14, a32); a33 = Block(q3, xv, o, s + 15, a33);
        }
        TileMath.Store4(y, a00, a01, a02, a03); y += ys;
        TileMath.Store4(y, a10, a11, a12, a13); y += ys;
        TileMath.Store4(y, a20, a21, a22, a23); y += ys;
        TileMath.Store4(y, a30, a31, a32, a33);
    }
}
