namespace Loom.Core.Quantization;

/// <summary>
/// Q5_K: 256 weights per 176-byte super-block of 8 groups of 32, 5-bit quants with 6-bit scale and min per group.
/// Layout: <c>Half d</c> (0-1), <c>Half dmin</c> (2-3), <c>byte scales[12]</c> (4-15, see <see cref="KScaleMin"/>),
/// <c>byte qh[32]</c> (16-47: bit e/32 of qh[e%32] is the 5th bit of element e), <c>byte qs[128]</c> (48-175, low
/// nibbles placed as in Q4_K). Value = d*sc_g * q - dmin*m_g with g = e/32.
/// </summary>
public static class Q5_K
{
    public const int BlockSize = 256;
    public const int BlockBytes = 176;
    private const int ScalesOffset = 4, QhOffset = 16, QsOffset = 48;

    /// <summary>Expands <c>dst.Length</c> weights (a multiple of 256).</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = QuantMath.Blocks(dst.Length, BlockSize, BlockBytes, src.Length, nameof(Q5_K));
        for (int i = 0; i < nb; i++)
        {
            var b = src.Slice(i * BlockBytes, BlockBytes);
            var y = dst.Slice(i * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(b, 0), min = QuantMath.ReadHalf(b, 2);
            for (int g = 0; g < 8; g++)
            {
                KScaleMin.Get(b.Slice(ScalesOffset, 12), g, out int sc, out int m);
                float dl = d * sc, ml = min * m;
                for (int e = 32 * g; e < 32 * g + 32; e++) y[e] = dl * Quant(b, e) - ml;
            }
        }
    }

    /// <summary>quantize_row_q5_K_ref (llama-quantize without an importance matrix).</summary>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q5_K));
        Span<byte> L = stackalloc byte[BlockSize];
        Span<byte> laux = stackalloc byte[32];
        Span<float> weights = stackalloc float[32];
        Span<float> mins = stackalloc float[8];
        Span<float> scales = stackalloc float[8];
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockSize, BlockSize);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            for (int g = 0; g < 8; g++)
            {
                var xg = x.Slice(32 * g, 32);
                KQuantWeights.RmsPlusAbs(xg, weights);
                scales[g] = KQuantSearch.MakeQkx2Quants(31, xg, weights, L.Slice(32 * g, 32), out mins[g], laux, -0.5f, 0.1f, 15, false);
            }
            var (d, dmin) = KScaleMin.Pack(scales, mins, b.Slice(ScalesOffset, 12));
            QuantMath.WriteHalf(b, 0, d);
            QuantMath.WriteHalf(b, 2, dmin);
            KQuantWeights.Requantize(x, b, ScalesOffset, 31, L);

            var qh = b.Slice(QhOffset, 32);
            qh.Clear();
            for (int c = 0; c < 4; c++)
            {
                for (int l = 0; l < 32; l++)
                {
                    int q1 = L[64 * c + l], q2 = L[64 * c + l + 32];
                    if (q1 > 15) { q1 -= 16; qh[l] |= (byte)(1 << (2 * c)); }
                    if (q2 > 15) { q2 -= 16; qh[l] |= (byte)(2 << (2 * c)); }
                    b[QsOffset + 32 * c + l] = (byte)(q1 | (q2 << 4));
                }
            }
        }
    }

    /// <summary>ggml_vec_dot_q5_K_q8_K (scalar): same accumulation scheme as <see cref="Q4_K.Dot"/>.</summary>
    public static float Dot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        int nb = QuantMath.Blocks(n, BlockSize, BlockBytes, w.Length, nameof(Q5_K));
        QuantMath.Blocks(n, Q8_K.BlockSize, Q8_K.BlockBytes, x.Length, nameof(Q8_K));
        Span<float> sums = stackalloc float[8];
        Span<int> aux32 = stackalloc int[8];
        sums.Clear();
        float sumf = 0;
        for (int i = 0; i < nb; i++)
        {
            var a = w.Slice(i * BlockBytes, BlockBytes);
            var b = x.Slice(i * Q8_K.BlockBytes, Q8_K.BlockBytes);
            var q8 = Q8_K.Quants(b);
            aux32.Clear();
            int sumi = 0;
            for (int g = 0; g < 8; g++)
            {
                KScaleMin.Get(a.Slice(ScalesOffset, 12), g, out int sc, out int m);
                sumi += (Q8_K.BlockSum(b, 2 * g) + Q8_K.BlockSum(b, 2 * g + 1)) * m;
                for (int e = 32 * g; e < 32 * g + 32; e++) aux32[e & 7] += sc * (q8[e] * Quant(a, e));
            }
            float dy = Q8_K.Scale(b);
            float d = QuantMath.ReadHalf(a, 0) * dy;
            for (int l = 0; l < 8; l++) sums[l] += d * aux32[l];
            float dmin = QuantMath.ReadHalf(a, 2) * dy;
            sumf -= dmin * sumi;
        }
        for (int l = 0; l < 8; l++) sumf += sums[l];
        return sumf;
    }

    /// <summary>The 5-bit quant (0..31) of element <paramref name="e"/>.</summary>
    private static int Quant(ReadOnlySpan<byte> block, int e)
    {
        byte q = block[QsOffset + 32 * (e >> 6) + (e & 31)];
        int low = (e & 32) == 0 ? q & 0xF : q >> 4;
        int high = (block[QhOffset + (e & 31)] >> (e >> 5)) & 1;
        return low | (high << 4);
    }
}
