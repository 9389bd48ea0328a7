using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Loom.Core.Quantization;

namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q4_1 × Q8_1 tile kernel (AVX2, AVX-VNNI when present): each 32-weight block is unpacked once per tile and meets
/// every token with one vpdpbusd; the offset term m_w·s_x uses the activations' stored s. Differs from
/// <see cref="Q4_1.Dot"/> only in float summation order.
/// </summary>
public static unsafe class Q4_1Tile
{
    /// <summary>True when this machine runs the SIMD path.</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>A <see cref="TileKernel"/> for Q4_1 weights and Q8_1 activations.</summary>
    public static void Mul(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride)
    {
        int nb = n / Q4_1.BlockSize;
        var acc = stackalloc Vector256<float>[TileKernels.MaxRows * TileKernels.MaxTokens];
        var offsets = stackalloc float[TileKernels.MaxRows * TileKernels.MaxTokens];
        for (int k = 0; k < TileKernels.MaxRows * TileKernels.MaxTokens; k++)
        {
            acc[k] = Vector256<float>.Zero;
            offsets[k] = 0;
        }

        for (int i = 0; i < nb; i++)
        {
            byte* xb0 = x + (nint)i * Q8_1.BlockBytes;
            for (int r = 0; r < rows; r++)
            {
                byte* b = w + r * wRowBytes + (nint)i * Q4_1.BlockBytes;
                TileMath.Prefetch(b, rows * wRowBytes, Q4_1.BlockBytes);
                float d = TileMath.Half(b), m = TileMath.Half(b + 2);
                var q = TileMath.Nibbles(b + 4);
                int k = r * TileKernels.MaxTokens;
                byte* xb = xb0;
                for (int t = 0; t < tokens; t++, xb += xRowBytes)
                {
                    var sum = TileMath.DotBytesAdd(Vector256<int>.Zero, q, xb + 4);
                    acc[k + t] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Vector256.Create(d * TileMath.Half(xb)), acc[k + t]);
                    offsets[k + t] += m * TileMath.Half(xb + 2);
                }
            }
        }
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
                y[t * yStride + r] = TileMath.Sum(acc[r * TileKernels.MaxTokens + t]) + offsets[r * TileKernels.MaxTokens + t];
    }
}
