using System.Buffers.Binary;

namespace Loom.Core.Quantization;

/// <summary>
/// Q5_0: 32 weights per 22-byte block, symmetric 5-bit.
/// Layout: <c>Half d</c> (0-1), <c>uint qh</c> (2-5, little-endian: bit j is the 5th bit of element j),
/// <c>byte qs[16]</c> (6-21: low nibble of qs[j] is element j, high nibble element j+16); value = (q - 16) * d.
/// </summary>
public static class Q5_0
{
    public const int BlockSize = 32;
    public const int BlockBytes = 22;

    /// <summary>Expands <c>dst.Length</c> weights (a multiple of 32).</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = QuantMath.Blocks(dst.Length, BlockSize, BlockBytes, src.Length, nameof(Q5_0));
        for (int i = 0; i < nb; i++)
        {
            var b = src.Slice(i * BlockBytes, BlockBytes);
            var y = dst.Slice(i * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(b, 0);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(b[2..]);
            for (int j = 0; j < 16; j++)
            {
                y[j] = (Quant(b, qh, j) - 16) * d;
                y[j + 16] = (Quant(b, qh, j + 16) - 16) * d;
            }
        }
    }

    /// <summary>quantize_row_q5_0_ref: d = (value of largest magnitude) / -16.</summary>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q5_0));
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockSize, BlockSize);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            float max = QuantMath.MaxByMagnitude(x, out _);
            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            QuantMath.WriteHalf(b, 0, d);
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                int q0 = Math.Min(31, (int)(x[j] * id + 16.5f));
                int q1 = Math.Min(31, (int)(x[j + 16] * id + 16.5f));
                b[6 + j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
                qh |= (uint)((q0 >> 4) & 1) << j;
                qh |= (uint)((q1 >> 4) & 1) << (j + 16);
            }
            BinaryPrimitives.WriteUInt32LittleEndian(b[2..], qh);
        }
    }

    /// <summary>ggml_vec_dot_q5_0_q8_0 (scalar): per block sumf += (d_w*d_x) * sumi.</summary>
    public static float Dot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        int nb = QuantMath.Blocks(n, BlockSize, BlockBytes, w.Length, nameof(Q5_0));
        QuantMath.Blocks(n, Q8_0.BlockSize, Q8_0.BlockBytes, x.Length, nameof(Q8_0));
        float sumf = 0;
        for (int i = 0; i < nb; i++)
        {
            var a = w.Slice(i * BlockBytes, BlockBytes);
            var b = x.Slice(i * Q8_0.BlockBytes, Q8_0.BlockBytes);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(a[2..]);
            int sumi0 = 0, sumi1 = 0;
            for (int j = 0; j < 16; j++)
            {
                sumi0 += (Quant(a, qh, j) - 16) * (sbyte)b[2 + j];
                sumi1 += (Quant(a, qh, j + 16) - 16) * (sbyte)b[2 + j + 16];
            }
            sumf += QuantMath.ReadHalf(a, 0) * QuantMath.ReadHalf(b, 0) * (sumi0 + sumi1);
        }
        return sumf;
    }

    /// <summary>The unsigned 5-bit quant of element <paramref name="e"/> (0..31) of a block.</summary>
    private static int Quant(ReadOnlySpan<byte> block, uint qh, int e)
    {
        int nibble = e < 16 ? block[6 + e] & 0x0F : block[6 + e - 16] >> 4;
        return nibble | (int)((qh >> e) & 1) << 4;
    }
}
