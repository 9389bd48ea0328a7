namespace Loom.Core.Quantization;

/// <summary>
/// The super-block Q4_K and Q5_K share: <c>Half d</c> (0-1), <c>Half dmin</c> (2-3), the <see cref="KScaleMin"/> scales
/// (4-15), then 4-bit quants, Q5_K adding a plane of fifth bits before them. Eight groups of 32, value =
/// d*sc_g * q - dmin*m_g. ggml writes the two formats' reference code twice; they differ only in the fifth bit and
/// the search parameters, so one body here serves both and they stay bit-exact together.
/// </summary>
/// <param name="Name">The format's name, for size errors.</param>
/// <param name="BlockBytes">Bytes per super-block.</param>
/// <param name="QhOffset">Where the fifth-bit plane starts (bit e/32 of qh[e%32]), or -1 for none.</param>
/// <param name="QsOffset">Where the 128 nibble bytes start (element e: byte 32*(e/64) + e%32, high nibble if e%64 &gt;= 32).</param>
/// <param name="Nmax">The largest quant (15 or 31).</param>
/// <param name="Rmin">make_qkx2_quants' rmin for this format.</param>
/// <param name="Nstep">make_qkx2_quants' nstep for this format.</param>
internal sealed record ScaleMinSuperBlock(string Name, int BlockBytes, int QhOffset, int QsOffset, int Nmax, float Rmin, int Nstep)
{
    public const int BlockSize = 256;
    private const int ScalesOffset = 4;

    /// <summary>Expands <c>dst.Length</c> weights (a multiple of 256).</summary>
    public void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = QuantMath.Blocks(dst.Length, BlockSize, BlockBytes, src.Length, Name);
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

    /// <summary>quantize_row_q4_K_ref / quantize_row_q5_K_ref (llama-quantize without an importance matrix).</summary>
    public void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, Name);
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
                RmsPlusAbs(xg, weights);
                scales[g] = KQuantSearch.MakeQkx2Quants(Nmax, xg, weights, L.Slice(32 * g, 32), out mins[g], laux, Rmin, 0.1f, Nstep, false);
            }
            var (d, dmin) = KScaleMin.Pack(scales, mins, b.Slice(ScalesOffset, 12));
            QuantMath.WriteHalf(b, 0, d);
            QuantMath.WriteHalf(b, 2, dmin);
            Requantize(x, b, L);

            if (QhOffset >= 0) b.Slice(QhOffset, 32).Clear();
            for (int c = 0; c < 4; c++)
            {
                for (int l = 0; l < 32; l++)
                {
                    int q1 = L[64 * c + l], q2 = L[64 * c + l + 32];
                    if (QhOffset >= 0) b[QhOffset + l] |= (byte)(((q1 >> 4) << (2 * c)) | ((q2 >> 4) << (2 * c + 1)));
                    b[QsOffset + 32 * c + l] = (byte)((q1 & 0xF) | ((q2 & 0xF) << 4));
                }
            }
        }
    }

    /// <summary>
    /// ggml_vec_dot_q4_K_q8_K / q5_K (scalar): products times the 6-bit group scale accumulate in 8 int lanes (lane
    /// e%8); per super-block the float lanes get (d*d_x) * lane and sumf -= (dmin*d_x) * sum(bsums * mins); the lanes
    /// are added to sumf in order at the end.
    /// </summary>
    public float Dot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        int nb = QuantMath.Blocks(n, BlockSize, BlockBytes, w.Length, Name);
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

    /// <summary>The quant (0..Nmax) of element <paramref name="e"/>.</summary>
    private int Quant(ReadOnlySpan<byte> block, int e)
    {
        byte q = block[QsOffset + 32 * (e >> 6) + (e & 31)];
        int low = (e & 32) == 0 ? q & 0xF : q >> 4;
        return QhOffset < 0 ? low : low | (((block[QhOffset + (e & 31)] >> (e >> 5)) & 1) << 4);
    }

    /// <summary>Error weights for one group of 32: sqrt(mean(x²)) + |x_i|.</summary>
    private static void RmsPlusAbs(ReadOnlySpan<float> x, Span<float> weights)
    {
        float sumX2 = 0;
        for (int l = 0; l < 32; l++) sumX2 += x[l] * x[l];
        float avX = MathF.Sqrt(sumX2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(x[l]);
    }

    /// <summary>
    /// Re-quantizes each group of 32 against the stored fp16 d/dmin and 6-bit scales/mins, as ggml does after packing;
    /// groups whose effective scale is zero keep the search's quants.
    /// </summary>
    private void Requantize(ReadOnlySpan<float> x, ReadOnlySpan<byte> block, Span<byte> L)
    {
        for (int g = 0; g < 8; g++)
        {
            KScaleMin.Get(block.Slice(ScalesOffset, 12), g, out int sc, out int m);
            float d = QuantMath.ReadHalf(block, 0) * sc;
            if (d == 0) continue;
            float dm = QuantMath.ReadHalf(block, 2) * m;
            for (int l = 0; l < 32; l++) L[32 * g + l] = (byte)Math.Clamp(QuantMath.NearestInt((x[32 * g + l] + dm) / d), 0, Nmax);
        }
    }
}
