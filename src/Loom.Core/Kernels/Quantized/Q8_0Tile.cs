using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Loom.Core.Quantization;

namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q8_0 weights × Q8_0 activations. Each block's integer dot is formed in eight int32 lanes (lane i: elements
/// 4i..4i+3) by vpdpbusd on |w| and x carrying w's sign, then fused-multiply-added with d_w·d_x into eight
/// float lanes: the order of llama.cpp's x86 kernels, so results equal <see cref="Q8_0.DotX86"/> bit for bit.
/// </summary>
public static unsafe class Q8_0Tile
{
    /// <summary>Whether this machine has the instructions the kernel needs.</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <inheritdoc cref="TileKernel"/>
    public static void Mul(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride)
    {
        int nb = n / Q8_0.BlockSize;
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
    private static Vector256<float> Block(Vector256<byte> absW, Vector256<sbyte> w, byte* xb, float scale, Vector256<float> acc)
    {
        var xs = Avx2.Sign(Vector256.Load((sbyte*)(xb + 2)), w);
        var sum = TileMath.Dot4(Vector256<int>.Zero, absW, xs);
        return Fma.MultiplyAdd(Vector256.Create(scale), Avx.ConvertToVector256Single(sum), acc);
    }

    private static float Row1Token1(byte* w, byte* x, int nb)
    {
        var acc = Vector256<float>.Zero;
        for (int i = 0; i < nb; i++, w += Q8_0.BlockBytes, x += Q8_0.BlockBytes)
        {
            var q = Vector256.Load((sbyte*)(w + 2));
            acc = Block(Avx2.Abs(q), q, x, TileMath.Half(w) * TileMath.Half(x), acc);
        }
        return TileMath.Sum(acc);
    }

    private static void Rows4Token1(byte* w, nint ws, byte* x, int nb, float* y)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int i = 0; i < nb; i++, w += Q8_0.BlockBytes, x += Q8_0.BlockBytes)
        {
            float dx = TileMath.Half(x);
            var q0 = Vector256.Load((sbyte*)(w + 2));
            var q1 = Vector256.Load((sbyte*)(w + ws + 2));
            var q2 = Vector256.Load((sbyte*)(w + 2 * ws + 2));
            var q3 = Vector256.Load((sbyte*)(w + 3 * ws + 2));
            a0 = Block(Avx2.Abs(q0), q0, x, TileMath.Half(w) * dx, a0);
            a1 = Block(Avx2.Abs(q1), q1, x, TileMath.Half(w + ws) * dx, a1);
            a2 = Block(Avx2.Abs(q2), q2, x, TileMath.Half(w + 2 * ws) * dx, a2);
            a3 = Block(Avx2.Abs(q3), q3, x, TileMath.Half(w + 3 * ws) * dx, a3);
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
        for (int i = 0; i < nb; i++, w += Q8_0.BlockBytes, x += Q8_0.BlockBytes)
        {
            float d0 = TileMath.Half(w), d1 = TileMath.Half(w + ws), d2 = TileMath.Half(w + 2 * ws), d3 = TileMath.Half(w + 3 * ws);
            var q0 = Vector256.Load((sbyte*)(w + 2));
            var q1 = Vector256.Load((sbyte*)(w + ws + 2));
            var q2 = Vector256.Load((sbyte*)(w + 2 * ws + 2));
            var q3 = Vector256.Load((sbyte*)(w + 3 * ws + 2));
            var u0 = Avx2.Abs(q0); var u1 = Avx2.Abs(q1); var u2 = Avx2.Abs(q2); var u3 = Avx2.Abs(q3);
            byte* x0 = x; float e = TileMath.Half(x0);
            a00 = Block(u0, q0, x0, d0 * e, a00); a01 = Block(u1, q1, x0, d1 * e, a01);
            a02 = Block(u2, q2, x0, d2 * e, a02); a03 = Block(u3, q3, x0, d3 * e, a03);
            x0 = x + xs; e = TileMath.Half(x0);
            a10 = Block(u0, q0, x0, d0 * e, a10); a11 = Block(u1, q1, x0, d1 * e, a11);
            a12 = Block(u2, q2, x0, d2 * e, a12); a13 = Block(u3, q3, x0, d3 * e, a13);
            x0 = x + 2 * xs; e = TileMath.Half(x0);
            a20 = Block(u0, q0, x0, d0 * e, a20); a21 = Block(u1, q1, x0, d1 * e, a21);
            a22 = Block(u2, q2, x0, d2 * e, a22); a23 = Block(u3, q3, x0, d3 * e, a23);
            x0 = x + 3 * xs; e = TileMath.Half(x0);
            a30 = Block(u0, q0, x0, d0 * e, a30); a31 = Block(u1, q1, x0, d1 * e, a31);
            a32 = Block(u2, q2, x0, d2 * e, a32); a33 = Block(u3, q3, x0, d3 * e, a33);
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
