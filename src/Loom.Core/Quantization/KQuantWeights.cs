namespace Loom.Core.Quantization;

/// <summary>Steps shared by the Q4_K and Q5_K reference quantizers.</summary>
internal static class KQuantWeights
{
    /// <summary>Error weights for one group of 32: sqrt(mean(x²)) + |x_i|.</summary>
    public static void RmsPlusAbs(ReadOnlySpan<float> x, Span<float> weights)
    {
        float sumX2 = 0;
        for (int l = 0; l < 32; l++) sumX2 += x[l] * x[l];
        float avX = MathF.Sqrt(sumX2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(x[l]);
    }

    /// <summary>
    /// Re-quantizes each group of 32 against the stored fp16 d/dmin (block bytes 0-3) and 6-bit scales/mins, as
    /// ggml does after packing; groups whose effective scale is zero keep the search's quants.
    /// </summary>
    public static void Requantize(ReadOnlySpan<float> x, ReadOnlySpan<byte> block, int scalesOffset, int nmax, Span<byte> L)
    {
        for (int g = 0; g < 8; g++)
        {
            KScaleMin.Get(block.Slice(scalesOffset, 12), g, out int sc, out int m);
            float d = QuantMath.ReadHalf(block, 0) * sc;
            if (d == 0) continue;
            float dm = QuantMath.ReadHalf(block, 2) * m;
            for (int l = 0; l < 32; l++) L[32 * g + l] = (byte)Math.Clamp(QuantMath.NearestInt((x[32 * g + l] + dm) / d), 0, nmax);
        }
    }
}
