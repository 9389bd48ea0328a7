namespace Loom.Core.Quantization;

/// <summary>
/// Q3_K: 256 weights per 110-byte super-block of 16 groups of 16, 3-bit symmetric quants with 6-bit group scales.
/// Layout: <c>byte hmask[32]</c> (0-31: bit e/32 of hmask[e%32] is the high bit of element e), <c>byte qs[64]</c>
/// (32-95: low 2 bits, packed as in Q2_K), <c>byte scales[12]</c> (96-107), <c>Half d</c> (108-109).
/// Scale s_g (6 bits, stored +32): low 4 bits = g &lt; 8 ? scales[g] &amp; 0xF : scales[g-8] &gt;&gt; 4, high 2 bits =
/// (scales[8 + g%4] &gt;&gt; 2*(g/4)) &amp; 3. Value = d * (s_g - 32) * (q - (high bit set ? 0 : 4)).
/// </summary>
public static class Q3_K
{
    public const int BlockSize = 256;
    public const int BlockBytes = 110;
    private const int QsOffset = 32, ScalesOffset = 96, DOffset = 108;

    /// <summary>Expands <c>dst.Length</c> weights (a multiple of 256).</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst) =>
        SymmetricSuperBlock.Dequantize(src, dst, BlockBytes, DOffset, nameof(Q3_K), Unpack);

    /// <summary>quantize_row_q3_K_ref (llama-quantize without an importance matrix).</summary>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q3_K));
        Span<sbyte> L = stackalloc sbyte[BlockSize];
        Span<float> scales = stackalloc float[16];
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockSize, BlockSize);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            for (int g = 0; g < 16; g++) scales[g] = KQuantSearch.MakeQ3Quants(4, x.Slice(16 * g, 16), L.Slice(16 * g, 16));
            float maxScale = QuantMath.MaxByMagnitude(scales, out _);

            var sc = b.Slice(ScalesOffset, 12);
            sc.Clear();
            if (maxScale != 0)
            {
                float iscale = -32f / maxScale;
                for (int g = 0; g < 16; g++)
                {
                    // ggml stores nearest_int into an int8 before clamping.
                    int l = Math.Clamp((int)(sbyte)QuantMath.NearestInt(iscale * scales[g]), -32, 31) + 32;
                    if (g < 8) sc[g] = (byte)(l & 0xF);
                    else sc[g - 8] |= (byte)((l & 0xF) << 4);
                    sc[8 + g % 4] |= (byte)((l >> 4) << (2 * (g / 4)));
                }
                QuantMath.WriteHalf(b, DOffset, 1 / iscale);
            }
            else
            {
                QuantMath.WriteHalf(b, DOffset, 0f);
            }

            // Re-quantize against the stored (6-bit, fp16) scales.
            for (int g = 0; g < 16; g++)
            {
                float d = QuantMath.ReadHalf(b, DOffset) * (Scale(b, g) - 32);
                if (d == 0) continue;
                for (int l = 0; l < 16; l++) L[16 * g + l] = (sbyte)(Math.Clamp(QuantMath.NearestInt(x[16 * g + l] / d), -4, 3) + 4);
            }

            var hmask = b[..32];
            hmask.Clear();
            for (int e = 0; e < BlockSize; e++)
            {
                if (L[e] > 3)
                {
                    hmask[e % 32] |= (byte)(1 << (e / 32));
                    L[e] -= 4;
                }
            }
            for (int h = 0; h < 2; h++)
            {
                for (int l = 0; l < 32; l++)
                {
                    int e = 128 * h + l;
                    b[QsOffset + 32 * h + l] = (byte)((byte)L[e] | ((byte)L[e + 32] << 2) | ((byte)L[e + 64] << 4) | ((byte)L[e + 96] << 6));
                }
            }
        }
    }

    /// <summary>ggml_vec_dot_q3_K_q8_K (scalar), with the group scales s_g - 32: see <see cref="SymmetricSuperBlock.Dot"/>.</summary>
    public static float Dot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n) =>
        SymmetricSuperBlock.Dot(w, x, n, BlockBytes, DOffset, nameof(Q3_K), Unpack);

    private static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<int> scales)
    {
        for (int g = 0; g < 16; g++) scales[g] = Scale(block, g) - 32;
        for (int e = 0; e < BlockSize; e++) quants[e] = (sbyte)Quant(block, e);
    }

    /// <summary>The stored 6-bit scale (0..63, bias 32) of group <paramref name="g"/>.</summary>
    private static int Scale(ReadOnlySpan<byte> block, int g)
    {
        var sc = block.Slice(ScalesOffset, 12);
        int low = g < 8 ? sc[g] & 0xF : sc[g - 8] >> 4;
        int high = (sc[8 + g % 4] >> (2 * (g / 4))) & 3;
        return low | (high << 4);
    }

    /// <summary>The signed 3-bit quant (-4..3) of element <paramref name="e"/>.</summary>
    private static int Quant(ReadOnlySpan<byte> block, int e)
    {
        int h = e >> 7, r = e & 127;
        int low = (block[QsOffset + 32 * h + (r & 31)] >> (2 * (r >> 5))) & 3;
        bool high = (block[e & 31] & (1 << (e >> 5))) != 0;
        return high ? low : low - 4;
    }
}
