using System.Buffers.Binary;

namespace Loom.Core.Quantization;

/// <summary>
/// Q5_1: 32 weights per 24-byte block, 5-bit with offset.
/// Layout: <c>Half d</c> (0-1), <c>Half m</c> (2-3), <c>uint qh</c> (4-7, bit j = 5th bit of element j),
/// <c>byte qs[16]</c> (8-23: low nibble of qs[j] is element j, high nibble element j+16); value = q * d + m.
/// </summary>
public static class Q5_1
{
    public const int BlockSize = 32;
    public const int BlockBytes = 24;

    /// <summary>Expands <c>dst.Length</c> weights (a multiple of 32).</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = QuantMath.Blocks(dst.Length, BlockSize, BlockBytes, src.Length, nameof(Q5_1));
        for (int i = 0; i < nb; i++)
        {
            var b = src.Slice(i * BlockBytes, BlockBytes);
            var y = dst.Slice(i * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(b, 0), m = QuantMath.ReadHalf(b, 2);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(b[4..]);
            for (int j = 0; j < 16; j++)
            {
                y[j] = Quant(b, qh, j) * d + m;
                y[j + 16] = Quant(b, qh, j + 16) * d + m;
            }
        }
    }

    /// <summary>quantize_row_q5_1_ref: d = (max - min) / 31, m = min.</summary>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q5_1));
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockSize, BlockSize);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            var (min, max) = QuantMath.Range(x);
            float d = (max - min) / 31;
            float id = d != 0 ? 1.0f / d : 0.0f;
            QuantMath.WriteHalf(b, 0, d);
            QuantMath.WriteHalf(b, 2, min);
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                // No clamp here in ggml: (x - min) * id never rounds past 31.
                int q0 = (int)((x[j] - min) * id + 0.5f);
                int q1 = (int)((x[j + 16] - min) * id + 0.5f);
                b[8 + j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
                qh |= (uint)((q0 >> 4) & 1) << j;
                qh |= (uint)((q1 >> 4) & 1) << (j + 16);
            }
            BinaryPrimitives.WriteUInt32LittleEndian(b[4..], qh);
        }
    }

    /// <summary>ggml_vec_dot_q5_1_q8_1 (scalar): per block sumf += (d_w*d_x)*sumi + m_w*s_x.</summary>
    public static float Dot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        int nb = QuantMath.Blocks(n, BlockSize, BlockBytes, w.Length, nameof(Q5_1));
        QuantMath.Blocks(n, Q8_1.BlockSize, Q8_1.BlockBytes, x.Length, nameof(Q8_1));
        float sumf = 0;
        for (int i = 0; i < nb; i++)
        {
            var a = w.Slice(i * BlockBytes, BlockBytes);
            var b = x.Slice(i * Q8_1.BlockBytes, Q8_1.BlockBytes);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(a[4..]);
            int sumi0 = 0, sumi1 = 0;
            for (int j = 0; j < 16; j++)
            {
                sumi0 += Quant(a, qh, j) * (sbyte)b[4 + j];
                sumi1 += Quant(a, qh, j + 16) * (sbyte)b[4 + j + 16];
            }
            int sumi = sumi0 + sumi1;
            sumf += QuantMath.ReadHalf(a, 0) * QuantMath.ReadHalf(b, 0) * sumi + QuantMath.ReadHalf(a, 2) * QuantMath.ReadHalf(b, 2);
        }
        return sumf;
    }

    /// <summary>The unsigned 5-bit quant of element <paramref name="e"/> (0..31) of a block.</summary>
    private static int Quant(ReadOnlySpan<byte> block, uint qh, int e)
    {
        int nibble = e < 16 ? block[8 + e] & 0x0F : block[8 + e - 16] >> 4;
        return nibble | ((int)((qh >> e) & 1) << 4);
    }
}
