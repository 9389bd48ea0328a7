namespace Loom.Core.Quantization;

/// <summary>
/// Q6_K: 256 weights per 210-byte super-block of 16 groups of 16, 6-bit symmetric quants with int8 group scales.
/// Layout: <c>byte ql[128]</c> (0-127), <c>byte qh[64]</c> (128-191), <c>sbyte scales[16]</c> (192-207),
/// <c>Half d</c> (208-209). Element e: half h = e/128, r = e%128, k = r/32, l = r%32; low 4 bits from
/// ql[64h + l + 32*(k&amp;1)] (low nibble for k &lt; 2, high for k &gt;= 2), high 2 bits = (qh[32h + l] &gt;&gt; 2k) &amp; 3.
/// Value = d * scales[e/16] * (q - 32).
/// </summary>
public static class Q6_K
{
    public const int BlockSize = 256;
    public const int BlockBytes = 210;
    private const int QhOffset = 128, ScalesOffset = 192, DOffset = 208;

    /// <summary>Expands <c>dst.Length</c> weights (a multiple of 256).</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst) =>
        SymmetricSuperBlock.Dequantize(src, dst, BlockBytes, DOffset, nameof(Q6_K), Unpack);

    /// <summary>quantize_row_q6_K_ref (llama-quantize without an importance matrix).</summary>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q6_K));
        Span<sbyte> L = stackalloc sbyte[BlockSize];
        Span<float> scales = stackalloc float[16];
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockSize, BlockSize);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            for (int g = 0; g < 16; g++) scales[g] = KQuantSearch.MakeQxQuants(32, x.Slice(16 * g, 16), L.Slice(16 * g, 16));
            float maxScale = QuantMath.MaxByMagnitude(scales, out float maxAbsScale);
            if (maxAbsScale < KQuantSearch.GroupMaxEps)
            {
                b.Clear();
                continue;
            }

            float iscale = -128f / maxScale;
            QuantMath.WriteHalf(b, DOffset, 1 / iscale);
            for (int g = 0; g < 16; g++) b[ScalesOffset + g] = (byte)(sbyte)Math.Min(127, QuantMath.NearestInt(iscale * scales[g]));

            for (int g = 0; g < 16; g++)
            {
                float d = QuantMath.ReadHalf(b, DOffset) * (sbyte)b[ScalesOffset + g];
                if (d == 0) continue;
                for (int l = 0; l < 16; l++) L[16 * g + l] = (sbyte)(Math.Clamp(QuantMath.NearestInt(x[16 * g + l] / d), -32, 31) + 32);
            }

            for (int h = 0; h < 2; h++)
            {
                for (int l = 0; l < 32; l++)
                {
                    int e = 128 * h + l;
                    int q1 = L[e], q2 = L[e + 32], q3 = L[e + 64], q4 = L[e + 96];
                    b[64 * h + l] = (byte)((q1 & 0xF) | ((q3 & 0xF) << 4));
                    b[64 * h + l + 32] = (byte)((q2 & 0xF) | ((q4 & 0xF) << 4));
                    b[QhOffset + 32 * h + l] = (byte)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
                }
            }
        }
    }

    /// <summary>ggml_vec_dot_q6_K_q8_K (scalar), with int8 group scales: see <see cref="SymmetricSuperBlock.Dot"/>.</summary>
    public static float Dot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n) =>
        SymmetricSuperBlock.Dot(w, x, n, BlockBytes, DOffset, nameof(Q6_K), Unpack);

    private static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<int> scales)
    {
        for (int g = 0; g < 16; g++) scales[g] = (sbyte)block[ScalesOffset + g];
        for (int e = 0; e < BlockSize; e++) quants[e] = (sbyte)Quant(block, e);
    }

    /// <summary>The signed 6-bit quant (-32..31) of element <paramref name="e"/>.</summary>
    private static int Quant(ReadOnlySpan<byte> block, int e)
    {
        int h = e >> 7, r = e & 127, k = r >> 5, l = r & 31;
        byte ql = block[64 * h + l + 32 * (k & 1)];
        int low = k < 2 ? ql & 0xF : ql >> 4;
        int high = (block[QhOffset + 32 * h + l] >> (2 * k)) & 3;
        return (low | (high << 4)) - 32;
    }
}
