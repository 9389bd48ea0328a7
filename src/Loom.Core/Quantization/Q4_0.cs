namespace Loom.Core.Quantization;

/// <summary>
/// Q4_0: 32 weights per 18-byte block, symmetric 4-bit.
/// Layout: <c>Half d</c> (bytes 0-1), <c>byte qs[16]</c> (bytes 2-17). Element j (j &lt; 16) is the low nibble of
/// qs[j], element j+16 the high nibble; value = (nibble - 8) * d.
/// </summary>
public static class Q4_0
{
    public const int BlockSize = 32;
    public const int BlockBytes = 18;

    /// <summary>Expands <c>dst.Length</c> weights (a multiple of 32).</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = QuantMath.Blocks(dst.Length, BlockSize, BlockBytes, src.Length, nameof(Q4_0));
        for (int i = 0; i < nb; i++)
        {
            var b = src.Slice(i * BlockBytes, BlockBytes);
            var y = dst.Slice(i * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(b, 0);
            for (int j = 0; j < 16; j++)
            {
                y[j] = ((b[2 + j] & 0x0F) - 8) * d;
                y[j + 16] = ((b[2 + j] >> 4) - 8) * d;
            }
        }
    }

    /// <summary>quantize_row_q4_0_ref: d = (value of largest magnitude) / -8, so that value maps to nibble 0 exactly.</summary>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q4_0));
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockSize, BlockSize);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            float max = QuantMath.MaxByMagnitude(x, out _);
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            QuantMath.WriteHalf(b, 0, d);
            for (int j = 0; j < 16; j++)
            {
                // ggml truncates (x*id + 8.5) toward zero, i.e. rounds half up within the 0..16 range.
                int q0 = Math.Min(15, (int)(x[j] * id + 8.5f));
                int q1 = Math.Min(15, (int)(x[j + 16] * id + 8.5f));
                b[2 + j] = (byte)(q0 | (q1 << 4));
            }
        }
    }

    /// <summary>ggml_vec_dot_q4_0_q8_0 (scalar): per block sumf += sumi * d_w * d_x, left to right in float.</summary>
    public static float Dot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        int nb = QuantMath.Blocks(n, BlockSize, BlockBytes, w.Length, nameof(Q4_0));
        QuantMath.Blocks(n, Q8_0.BlockSize, Q8_0.BlockBytes, x.Length, nameof(Q8_0));
        float sumf = 0;
        for (int i = 0; i < nb; i++)
        {
            var a = w.Slice(i * BlockBytes, BlockBytes);
            var b = x.Slice(i * Q8_0.BlockBytes, Q8_0.BlockBytes);
            int sumi0 = 0, sumi1 = 0;
            for (int j = 0; j < 16; j++)
            {
                sumi0 += ((a[2 + j] & 0x0F) - 8) * (sbyte)b[2 + j];
                sumi1 += ((a[2 + j] >> 4) - 8) * (sbyte)b[2 + j + 16];
            }
            sumf += (sumi0 + sumi1) * QuantMath.ReadHalf(a, 0) * QuantMath.ReadHalf(b, 0);
        }
        return sumf;
    }

    /// <summary>
    /// The same dot product summed as llama.cpp's x86 kernels sum it: eight float lanes, lane i taking the integer
    /// sum of (q−8)·x over elements 4i..4i+3 of each block, fused-multiply-added with d_w·d_x, then reduced as
    /// hsum_float_8 does. The reference for <see cref="Kernels.Quantized.Q4_0Tile"/>.
    /// </summary>
    public static float DotX86(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        int nb = QuantMath.Blocks(n, BlockSize, BlockBytes, w.Length, nameof(Q4_0));
        QuantMath.Blocks(n, Q8_0.BlockSize, Q8_0.BlockBytes, x.Length, nameof(Q8_0));
        Span<float> acc = stackalloc float[8];
        acc.Clear();
        for (int i = 0; i < nb; i++)
        {
            var a = w.Slice(i * BlockBytes, BlockBytes);
            var b = x.Slice(i * Q8_0.BlockBytes, Q8_0.BlockBytes);
            float d = QuantMath.ReadHalf(a, 0) * QuantMath.ReadHalf(b, 0);
            for (int lane = 0; lane < 8; lane++)
            {
                int sum = 0;
                for (int k = 0; k < 4; k++)
                {
                    int j = 4 * lane + k;
                    int q = j < 16 ? a[2 + j] & 0x0F : a[2 + j - 16] >> 4;
                    sum += (q - 8) * (sbyte)b[2 + j];
                }
                acc[lane] = MathF.FusedMultiplyAdd(d, sum, acc[lane]);
            }
        }
        float r0 = acc[4] + acc[0], r1 = acc[5] + acc[1], r2 = acc[6] + acc[2], r3 = acc[7] + acc[3];
        return (r0 + r2) + (r1 + r3);
    }
}
