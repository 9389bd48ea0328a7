namespace Loom.Core.Quantization;

/// <summary>A symmetric K-quant super-block unpacked: its 256 signed quants and its sixteen signed group scales.</summary>
internal delegate void SuperBlockUnpacker(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<int> scales);

/// <summary>
/// What Q3_K and Q6_K do alike once a super-block is unpacked: sixteen groups of 16, value = d * scale_g * q, and
/// ggml's scalar dot over that. Only the bit layouts differ, so each format gives its unpacker and the arithmetic,
/// whose order the bit-exact tests pin, is written once.
/// </summary>
internal static class SymmetricSuperBlock
{
    public const int BlockSize = 256;

    /// <summary>Expands <c>dst.Length</c> weights (a multiple of 256); d is the fp16 at <paramref name="dOffset"/>.</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst, int blockBytes, int dOffset, string type, SuperBlockUnpacker unpack)
    {
        int nb = QuantMath.Blocks(dst.Length, BlockSize, blockBytes, src.Length, type);
        Span<sbyte> q = stackalloc sbyte[BlockSize];
        Span<int> scales = stackalloc int[16];
        for (int i = 0; i < nb; i++)
        {
            var b = src.Slice(i * blockBytes, blockBytes);
            var y = dst.Slice(i * BlockSize, BlockSize);
            unpack(b, q, scales);
            float d = QuantMath.ReadHalf(b, dOffset);
            for (int g = 0; g < 16; g++)
            {
                float dl = d * scales[g];
                for (int e = 16 * g; e < 16 * g + 16; e++) y[e] = dl * q[e];
            }
        }
    }

    /// <summary>
    /// ggml_vec_dot_q3_K_q8_K / q6_K (scalar): integer products times the group scale accumulate into 8 int lanes
    /// (element e goes to lane e%8); per super-block each lane is added to its own float lane as (d*d_x) * lane; the 8
    /// float lanes are summed in order at the end.
    /// </summary>
    public static float Dot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n, int blockBytes, int dOffset, string type, SuperBlockUnpacker unpack)
    {
        int nb = QuantMath.Blocks(n, BlockSize, blockBytes, w.Length, type);
        QuantMath.Blocks(n, Q8_K.BlockSize, Q8_K.BlockBytes, x.Length, nameof(Q8_K));
        Span<sbyte> q = stackalloc sbyte[BlockSize];
        Span<int> scales = stackalloc int[16];
        Span<float> sums = stackalloc float[8];
        Span<int> aux32 = stackalloc int[8];
        sums.Clear();
        for (int i = 0; i < nb; i++)
        {
            var a = w.Slice(i * blockBytes, blockBytes);
            var b = x.Slice(i * Q8_K.BlockBytes, Q8_K.BlockBytes);
            var q8 = Q8_K.Quants(b);
            unpack(a, q, scales);
            aux32.Clear();
            for (int g = 0; g < 16; g++)
            {
                for (int e = 16 * g; e < 16 * g + 16; e++) aux32[e & 7] += scales[g] * (q8[e] * q[e]);
            }
            float d = QuantMath.ReadHalf(a, dOffset) * Q8_K.Scale(b);
            for (int l = 0; l < 8; l++) sums[l] += d * aux32[l];
        }
        float sumf = 0;
        for (int l = 0; l < 8; l++) sumf += sums[l];
        return sumf;
    }
}
