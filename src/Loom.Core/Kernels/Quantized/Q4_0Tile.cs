using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Loom.Core.Quantization;

namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q4_0 weights × Q8_0 activations. Nibbles are unpacked once per block and tile into 32 unsigned bytes (low
/// nibbles then high, the element order); vpdpbusd forms Σ q·x per four elements and the −8 offset is taken out
/// exactly as 8·Σx, computed once per token and block. The eight int32 lanes (lane i: elements 4i..4i+3) are then
/// fused-multiply-added with d_w·d_x, the order of llama.cpp's x86 kernels.
/// </summary>
public static unsafe class Q4_0Tile
{
    /// <summary>Whether this machine has the instructions the kernel needs.</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <inheritdoc cref="TileKernel"/>
    public static void Mul(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride)
    {
        int nb = n / Q4_0.BlockSize;
        if (rows == 4)
        {
            int t = 0;
            for (; t + 4 <= tokens; t += 4) Rows4Tokens4(w, wRowBytes, x + t * xRowBytes, xRowBytes, nb, y + t * yStride, yStride);
            for (; t < tokens; t++) Rows4Token1(w, wRowBytes, x + t * xRowBytes, nb, y + t * yStride);
            return;
        }
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
                y[t * yStride + r] = Row1Token1(w + r * wRowBytes, x + t * xRowBytes, nb);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Unpack(byte* w)
    {
        var packed = Vector128.Load(w + 2);
        var low = Vector128.Create((byte)0x0F);
        return Vector256.Create(packed & low, Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & low);
    }

    /// <summary>−8·Σx per lane: the offset correction that seeds each lane's integer sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Offset(Vector256<sbyte> x) =>
        Vector256<int>.Zero - TileMath.Dot4(Vector256<int>.Zero, Vector256.Create((byte)8), x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block(Vector256<byte> q, Vector256<sbyte> x, Vector256<int> offset, float scale, Vector256<float> acc) =>
        Fma.MultiplyAdd(Vector256.Create(scale), Avx.ConvertToVector256Single(TileMath.Dot4(offset, q, x)), acc);

    private static float Row1Token1(byte* w, byte* x, int nb)
    {
        var acc = Vector256<float>.Zero;
        for (int i = 0; i < nb; i++, w += Q4_0.BlockBytes, x += Q8_0.BlockBytes)
        {
            var xv = Vector256.Load((sbyte*)(x + 2));
            acc = Block(Unpack(w), xv, Offset(xv), TileMath.Half(w) * TileMath.Half(x), acc);
        }
        return TileMath.Sum(acc);
    }

    private static void Rows4Token1(byte* w, nint ws, byte* x, int nb, float* y)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int i = 0; i < nb; i++, w += Q4_0.BlockBytes, x += Q8_0.BlockBytes)
        {
            float dx = TileMath.Half(x);
            var xv = Vector256.Load((sbyte*)(x + 2));
            var o = Offset(xv);
            a0 = Block(Unpack(w), xv, o, TileMath.Half(w) * dx, a0);
            a1 = Block(Unpack(w + ws), xv, o, TileMath.Half(w + ws) * dx, a1);
            a2 = Block(Unpack(w + 2 * ws), xv, o, TileMath.Half(w + 2 * ws) * dx, a2);
            a3 = Block(Unpack(w + 3 * ws), xv, o, TileMath.Half(w + 3 * ws) * dx, a3);
        }
        y[0] = TileMath.Sum(a0); y[1] = TileMath.Sum(a1);
        y[2] = TileMath.Sum(a2); y[3] = TileMath.Sum(a3);
    }

    private static void Rows4Tokens4(byte* w, nint ws, byte* x, nint xs, int nb, float* y, nint ys)
    {
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector256<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector256<float> a30 = default, a31 = default, a32 = default, a33 = default;
        for (int i = 0; i < nb; i++, w += Q4_0.BlockBytes, x += Q8_0.BlockBytes)
        {
            float d0 = TileMath.Half(w), d1 = TileMath.Half(w + ws), d2 = TileMath.Half(w + 2 * ws), d3 = TileMath.Half(w + 3 * ws);
            var q0 = Unpack(w); var q1 = Unpack(w + ws); var q2 = Unpack(w + 2 * ws); var q3 = Unpack(w + 3 * ws);
            byte* x0 = x; float e = TileMath.Half(x0);
            var xv = Vector256.Load((sbyte*)(x0 + 2)); var o = Offset(xv);
            a00 = Block(q0, xv, o, d0 * e, a00); a01 = Block(q1, xv, o, d1 * e, a01);
            a02 = Block(q2, xv, o, d2 * e, a02); a03 = Block(q3, xv, o, d3 * e, a03);
            x0 = x + xs; e = TileMath.Half(x0);
            xv = Vector256.Load((sbyte*)(x0 + 2)); o = Offset(xv);
            a10 = Block(q0, xv, o, d0 * e, a10); a11 = Block(q1, xv, o, d1 * e, a11);
            a12 = Block(q2, xv, o, d2 * e, a12); a13 = Block(q3, xv, o, d3 * e, a13);
            x0 = x + 2 * xs; e = TileMath.Half(x0);
            xv = Vector256.Load((sbyte*)(x0 + 2)); o = Offset(xv);
            a20 = Block(q0, xv, o, d0 * e, a20); a21 = Block(q1, xv, o, d1 * e, a21);
            a22 = Block(q2, xv, o, d2 * e, a22); a23 = Block(q3, xv, o, d3 * e, a23);
            x0 = x + 3 * xs; e = TileMath.Half(x0);
            xv = Vector256.Load((sbyte*)(x0 + 2)); o = Offset(xv);
            a30 = Block(q0, xv, o, d0 * e, a30); a31 = Block(q1, xv, o, d1 * e, a31);
            a32 = Block(q2, xv, o, d2 * e, a32); a33 = Block(q3, xv, o, d3 * e, a33);
        }
        y[0] = TileMath.Sum(a00); y[1] = TileMath.Sum(a01); y[2] = TileMath.Sum(a02); y[3] = TileMath.Sum(a03);
        y += ys;
        y[0] = TileMath.Sum(a10); y[1] = TileMath.Sum(a11); y[2] = TileMath.Sum(a12); y[3] = TileMath.Sum(a13);
        y += ys;
        y[0] = TileMath.Sum(a20); y[1] = TileMath.Sum(a21); y[2] = TileMath.Sum(a22); y[3] = TileMath.Sum(a23);
        y += ys;
        y[0] = TileMath.Sum(a30); y[1] = TileMath.Sum(a31); y[2] = TileMath.Sum(a32); y[3] = TileMath.Sum(a33);
    }
}
