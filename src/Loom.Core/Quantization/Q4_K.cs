namespace Loom.Core.Quantization;

/// <summary>
/// Q4_K: 256 weights per 144-byte super-block of 8 groups of 32, 4-bit quants with 6-bit scale and min per group.
/// Layout: <c>Half d</c> (0-1), <c>Half dmin</c> (2-3), <c>byte scales[12]</c> (4-15, see <see cref="KScaleMin"/>),
/// <c>byte qs[128]</c> (16-143). Element e: chunk c = e/64; low nibble of qs[32c + e%32] if e%64 &lt; 32, else the high
/// nibble. Value = d*sc_g * q - dmin*m_g with g = e/32.
/// </summary>
public static class Q4_K
{
    public const int BlockSize = 256;
    public const int BlockBytes = 144;
    private const int QsOffset = 16;
    private static readonly ScaleMinSuperBlock Format = new(nameof(Q4_K), BlockBytes, QhOffset: -1, QsOffset, Nmax: 15, Rmin: -1f, Nstep: 20);

    /// <summary>Expands <c>dst.Length</c> weights (a multiple of 256).</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst) => Format.Dequantize(src, dst);

    /// <summary>quantize_row_q4_K_ref (llama-quantize without an importance matrix).</summary>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst) => Format.Quantize(src, dst);

    /// <summary>ggml_vec_dot_q4_K_q8_K (scalar): see <see cref="ScaleMinSuperBlock.Dot"/>.</summary>
    public static float Dot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n) => Format.Dot(w, x, n);
}
