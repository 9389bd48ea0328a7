namespace Loom.Core.Quantization;

/// <summary>
/// The 12-byte packing of eight 6-bit scales and eight 6-bit mins of the <see cref="ScaleMinSuperBlock"/> (get_scale_min_k4).
/// For j &lt; 4: scale = bytes[j] &amp; 63, min = bytes[j+4] &amp; 63. For j &gt;= 4: scale = (bytes[j+4] &amp; 0xF) | (bytes[j-4] &gt;&gt; 6) &lt;&lt; 4,
/// min = (bytes[j+4] &gt;&gt; 4) | (bytes[j] &gt;&gt; 6) &lt;&lt; 4.
/// </summary>
internal static class KScaleMin
{
    public static void Get(ReadOnlySpan<byte> q, int j, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = q[j] & 63;
            min = q[j + 4] & 63;
        }
        else
        {
            scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
            min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }

    /// <summary>
    /// The part of quantize_row_q4_K_ref / q5_K_ref after the per-group search: quantizes the eight group scales and
    /// mins to 6 bits against their maxima, writes them packed into <paramref name="q"/> (12 bytes) and returns the
    /// super-block d and dmin (before fp16 rounding).
    /// </summary>
    public static (float d, float dmin) Pack(ReadOnlySpan<float> scales, ReadOnlySpan<float> mins, Span<byte> q)
    {
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int j = 0; j < 8; j++)
        {
            // ggml stores nearest_int into a uint8 and then clamps to 63.
            int ls = Math.Min(63, (int)(byte)QuantMath.NearestInt(invScale * scales[j]));
            int lm = Math.Min(63, (int)(byte)QuantMath.NearestInt(invMin * mins[j]));
            if (j < 4)
            {
                q[j] = (byte)ls;
                q[j + 4] = (byte)lm;
            }
            else
            {
                q[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                q[j - 4] |= (byte)((ls >> 4) << 6);
                q[j] |= (byte)((lm >> 4) << 6);
            }
        }
        return (maxScale / 63f, maxMin / 63f);
    }
}
