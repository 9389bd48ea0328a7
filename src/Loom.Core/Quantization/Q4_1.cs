namespace Loom.Core.Quantization;

/// <summary>
/// Q4_1: 32 weights per 20-byte block, 4-bit with offset.
/// Layout: <c>Half d</c> (0-1), <c>Half m</c> (2-3), <c>byte qs[16]</c> (4-19). Element j (j &lt; 16) is the low
/// nibble of qs[j], element j+16 the high nibble; value = nibble * d + m.
/// </summary>
public static class Q4_1
{
    public const int BlockSize = 32;
    public const int BlockBytes = 20;

    /// <summary>Expands <c>dst.Length</c> weights (a multiple of 32).</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = QuantMath.Blocks(dst.Length, BlockSize, BlockBytes, src.Length, nameof(Q4_1));
        for (int i = 0; i < nb; i++)
        {
            var b = src.Slice(i * BlockBytes, BlockBytes);
            var y = dst.Slice(i * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(b, 0), m = QuantMath.ReadHalf(b, 2);
            for (int j = 0; j < 16; j++)
            {
                y[j] = (b[4 + j] & 0x0F) * d + m;
                y[j + 16] = (b[4 + j] >> 4) * d + m;
            }
        }
    }

    /// <summary>quantize_row_q4_1_ref: d = (max - min) / 15, m = min.</summary>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q4_1));
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockSize, BlockSize);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            var (min, max) = QuantMath.Range(x);
            float d = (max - min) / 15;
            float id = d != 0 ? 1.0f / d : 0.0f;
            QuantMath.WriteHalf(b, 0, d);
            QuantMath.WriteHalf(b, 2, min);
            for (int j = 0; j < 16; j++)
            {
                int q0 = Math.Min(15, (int)((x[j] - min) * id + 0.5f));
                int q1 = Math.Min(15, (int)((x[j + 16] - min) * id + 0.5f));
                b[4 + j] = (byte)(q0 | (q1 << 4));
            }
        }
    }

    /// <summary>ggml_vec_dot_q4_1_q8_1 (scalar): per block sumf += (d_w*d_x)*sumi + m_w*s_x, where s_x = d_x * sum(q_x).</summary>
    public static float Dot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        int nb = QuantMath.Blocks(n, BlockSize, BlockBytes, w.Length, nameof(Q4_1));
        QuantMath.Blocks(n, Q8_1.BlockSize, Q8_1.BlockBytes, x.Length, nameof(Q8_1));
        float sumf = 0;
        for (int i = 0; i < nb; i++)
        {
            var a = w.Slice(i * BlockBytes, BlockBytes);
            var b = x.Slice(i * Q8_1.BlockBytes, Q8_1.BlockBytes);
            int sumi0 = 0, sumi1 = 0;
            for (int j = 0; j < 16; j++)
            {
                sumi0 += (a[4 + j] & 0x0F) * (sbyte)b[4 + j];
                sumi1 += (a[4 + j] >> 4) * (sbyte)b[4 + j + 16];
            }
            int sumi = sumi0 + sumi1;
            sumf += QuantMath.ReadHalf(a, 0) * QuantMath.ReadHalf(b, 0) * sumi + QuantMath.ReadHalf(a, 2) * QuantMath.ReadHalf(b, 2);
        }
        return sumf;
    }
}
