namespace Loom.Core.Quantization;

/// <summary>
/// Q2_K: 256 weights per 84-byte super-block of 16 groups of 16, 2-bit quants with a 4-bit scale and 4-bit min per group.
/// Layout: <c>byte scales[16]</c> (0-15: low nibble = scale, high nibble = min of group g), <c>byte qs[64]</c> (16-79),
/// <c>Half d</c> (80-81), <c>Half dmin</c> (82-83). Element e: half h = e/128, r = e%128; its quant is bits
/// 2*(r/32)..+1 of qs[32h + r%32]. Value = d*sc_g * q - dmin*m_g with g = e/16.
/// </summary>
public static class Q2_K
{
    public const int BlockSize = 256;
    public const int BlockBytes = 84;
    private const int QsOffset = 16, DOffset = 80, DminOffset = 82;

    /// <summary>Expands <c>dst.Length</c> weights (a multiple of 256).</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = QuantMath.Blocks(dst.Length, BlockSize, BlockBytes, src.Length, nameof(Q2_K));
        for (int i = 0; i < nb; i++)
        {
            var b = src.Slice(i * BlockBytes, BlockBytes);
            var y = dst.Slice(i * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(b, DOffset), min = QuantMath.ReadHalf(b, DminOffset);
            for (int g = 0; g < 16; g++)
            {
                float dl = d * (b[g] & 0xF), ml = min * (b[g] >> 4);
                for (int e = 16 * g; e < 16 * g + 16; e++) y[e] = dl * Quant(b, e) - ml;
            }
        }
    }

    /// <summary>quantize_row_q2_K_ref (llama-quantize without an importance matrix).</summary>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q2_K));
        Span<byte> L = stackalloc byte[BlockSize];
        Span<byte> laux = stackalloc byte[16];
        Span<float> weights = stackalloc float[16];
        Span<float> mins = stackalloc float[16];
        Span<float> scales = stackalloc float[16];
        const float q4scale = 15f;
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockSize, BlockSize);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            float maxScale = 0, maxMin = 0;
            for (int g = 0; g < 16; g++)
            {
                var xg = x.Slice(16 * g, 16);
                for (int l = 0; l < 16; l++) weights[l] = MathF.Abs(xg[l]);
                scales[g] = KQuantSearch.MakeQkx2Quants(3, xg, weights, L.Slice(16 * g, 16), out mins[g], laux, -0.5f, 0.1f, 15, true);
                if (scales[g] > maxScale) maxScale = scales[g];
                if (mins[g] > maxMin) maxMin = mins[g];
            }

            if (maxScale > 0)
            {
                float iscale = q4scale / maxScale;
                for (int g = 0; g < 16; g++) b[g] = (byte)QuantMath.NearestInt(iscale * scales[g]);
                QuantMath.WriteHalf(b, DOffset, maxScale / q4scale);
            }
            else
            {
                b[..16].Clear();
                QuantMath.WriteHalf(b, DOffset, 0f);
            }
            if (maxMin > 0)
            {
                float iscale = q4scale / maxMin;
                for (int g = 0; g < 16; g++) b[g] |= (byte)(QuantMath.NearestInt(iscale * mins[g]) << 4);
                QuantMath.WriteHalf(b, DminOffset, maxMin / q4scale);
            }
            else
            {
                QuantMath.WriteHalf(b, DminOffset, 0f);
            }

            // Re-quantize against the fp16-rounded scales actually stored.
            for (int g = 0; g < 16; g++)
            {
                float d = QuantMath.ReadHalf(b, DOffset) * (b[g] & 0xF);
                if (d == 0) continue;
                float dm = QuantMath.ReadHalf(b, DminOffset) * (b[g] >> 4);
                for (int l = 0; l < 16; l++) L[16 * g + l] = (byte)Math.Clamp(QuantMath.NearestInt((x[16 * g + l] + dm) / d), 0, 3);
            }

            for (int h = 0; h < 2; h++)
            {
                for (int l = 0; l < 32; l++)
                {
                    int e = 128 * h + l;
                    b[QsOffset + 32 * h + l] = (byte)(L[e] | (L[e + 32] << 2) | (L[e + 64] << 4) | (L[e + 96] << 6));
                }
            }
        }
    }

    /// <summary>
    /// ggml_vec_dot_q2_K_q8_K (scalar): integer sums per group times the 4-bit scales, mins applied through the
    /// activations' bsums; per super-block sumf += (d_x*d) * isum - (d_x*dmin) * summs.
    /// </summary>
    public static float Dot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        int nb = QuantMath.Blocks(n, BlockSize, BlockBytes, w.Length, nameof(Q2_K));
        QuantMath.Blocks(n, Q8_K.BlockSize, Q8_K.BlockBytes, x.Length, nameof(Q8_K));
        float sumf = 0;
        for (int i = 0; i < nb; i++)
        {
            var a = w.Slice(i * BlockBytes, BlockBytes);
            var b = x.Slice(i * Q8_K.BlockBytes, Q8_K.BlockBytes);
            var q8 = Q8_K.Quants(b);
            int summs = 0;
            for (int g = 0; g < 16; g++) summs += Q8_K.BlockSum(b, g) * (a[g] >> 4);
            float dy = Q8_K.Scale(b);
            float dall = dy * QuantMath.ReadHalf(a, DOffset);
            float dmin = dy * QuantMath.ReadHalf(a, DminOffset);
            int isum = 0;
            for (int g = 0; g < 16; g++)
            {
                int isuml = 0;
                for (int e = 16 * g; e < 16 * g + 16; e++) isuml += q8[e] * Quant(a, e);
                isum += (a[g] & 0xF) * isuml;
            }
            sumf += dall * isum - dmin * summs;
        }
        return sumf;
    }

    /// <summary>The 2-bit quant (0..3) of element <paramref name="e"/> of a super-block.</summary>
    private static int Quant(ReadOnlySpan<byte> block, int e)
    {
        int h = e >> 7, r = e & 127;
        return (block[QsOffset + 32 * h + (r & 31)] >> (2 * (r >> 5))) & 3;
    }
}
