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
    private const int QhOffset = 16, QsOffset = 48;
    private static readonly ScaleMinSuperBlock Format = new(nameof(Q5_K), BlockBytes, QhOffset, QsOffset, Nmax: 31, Rmin: -0.5f, Nstep: 15);

    /// <summary>Expands <c>dst.Length</c> weights (a multiple of 256).</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst) => Format.Dequantize(src, dst);

    /// <summary>quantize_row_q5_K_ref (llama-quantize without an importance matrix).</summary>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst) => Format.Quantize(src, dst);

    /// <summary>ggml_vec_dot_q5_K_q8_K (scalar): see <see cref="ScaleMinSuperBlock.Dot"/>.</summary>
    public static float Dot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n) => Format.Dot(w, x, n);
}
