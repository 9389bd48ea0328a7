using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Loom.Core.Quantization;

namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q5_0 × Q8_0 tile kernel (AVX2, AVX-VNNI when present). Weights are kept unsigned (q = 0..31, value q - 16) so
/// vpdpbusd applies; the -16 comes off exactly as a second vpdpbusd of 16s against the same activations. Differs from
/// <see cref="Q5_0.Dot"/> only in float summation order.
/// </summary>
public static unsafe class Q5_0Tile
{
    /// <summary>True when this machine runs the SIMD path.</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>A <see cref="TileKernel"/> for Q5_0 weights and Q8_0 activations.</summary>
    public static void Mul(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride)
    {
        int nb = n / Q5_0.BlockSize;
        var acc = stackalloc Vector256<float>[TileKernels.MaxRows * TileKernels.MaxTokens];
        for (int k = 0; k < TileKernels.MaxRows * TileKernels.MaxTokens; k++) acc[k] = Vector256<float>.Zero;
        var sixteen = Vector256.Create((byte)16);

        for (int i = 0; i < nb; i++)
        {
            byte* xb0 = x + (nint)i * Q8_0.BlockBytes;
            for (int r = 0; r < rows; r++)
            {
                byte* b = w + r * wRowBytes + (nint)i * Q5_0.BlockBytes;
                TileMath.Prefetch(b, rows * wRowBytes, Q5_0.BlockBytes);
                float d = TileMath.Half(b);
                var q = Avx2.Or(TileMath.Nibbles(b + 6), TileMath.FifthBits(*(uint*)(b + 2)));
                var a = acc + r * TileKernels.MaxTokens;
                byte* xb = xb0;
                for (int t = 0; t < tokens; t++, xb += xRowBytes)
                {
                    var sum = Avx2.Subtract(TileMath.DotBytesAdd(Vector256<int>.Zero, q, xb + 2), TileMath.DotBytesAdd(Vector256<int>.Zero, sixteen, xb + 2));
                    a[t] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Vector256.Create(d * TileMath.Half(xb)), a[t]);
                }
            }
        }
        TileMath.Store(acc, rows, tokens, y, yStride);
    }
}
