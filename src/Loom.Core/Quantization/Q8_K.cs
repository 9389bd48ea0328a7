using System.Buffers.Binary;

namespace Loom.Core.Quantization;

/// <summary>
/// Q8_K: 256 values per 292-byte super-block, the activation format for all K-quant weights.
/// Layout: <c>float d</c> (0-3, fp32, not fp16), <c>sbyte qs[256]</c> (4-259), <c>short bsums[16]</c>
/// (260-291, sum of each run of 16 quants, used by the dot products to apply the weights' mins); value = qs[j] * d.
/// </summary>
/// <remarks>
/// ggml-cpu has no x86 SIMD quantizer for Q8_K: at inference it calls quantize_row_q8_K_ref, so
/// <see cref="Quantize"/> is that one (iscale = -127/max where max is the value of largest magnitude, ties to even
/// via nearest_int, d = 1/iscale).
/// </remarks>
public static class Q8_K
{
    public const int BlockSize = 256;
    public const int BlockBytes = 292;
    private const int QsOffset = 4, BsumsOffset = 260;

    /// <summary>Expands <c>dst.Length</c> values (a multiple of 256).</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = QuantMath.Blocks(dst.Length, BlockSize, BlockBytes, src.Length, nameof(Q8_K));
        for (int i = 0; i < nb; i++)
        {
            var b = src.Slice(i * BlockBytes, BlockBytes);
            var y = dst.Slice(i * BlockSize, BlockSize);
            float d = BinaryPrimitives.ReadSingleLittleEndian(b);
            for (int j = 0; j < BlockSize; j++) y[j] = d * (sbyte)b[QsOffset + j];
        }
    }

    /// <summary>
    /// quantize_row_q8_K_ref, which is also what x86 inference uses: <see cref="Q8_KFast"/> where AVX2 is available
    /// (bit-exact with <see cref="QuantizeReference"/>), otherwise the reference itself.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (Q8_KFast.IsSupported) Q8_KFast.Quantize(src, dst);
        else QuantizeReference(src, dst);
    }

    /// <summary>quantize_row_q8_K_ref, scalar. An all-zero block gets d = 0, zero quants and zero bsums.</summary>
    public static void QuantizeReference(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q8_K));
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockSize, BlockSize);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            float max = QuantMath.MaxByMagnitude(x, out float amax);
            if (amax == 0)
            {
                // ggml leaves bsums untouched here; zeros are what they would sum to.
                b.Clear();
                continue;
            }
            // -127 rather than -128 so the quants are symmetric (ggml: "needed for IQ2_XXS").
            float iscale = -127f / max;
            for (int j = 0; j < BlockSize; j++) b[QsOffset + j] = (byte)(sbyte)Math.Min(127, QuantMath.NearestInt(iscale * x[j]));
            for (int g = 0; g < BlockSize / 16; g++)
            {
                int sum = 0;
                for (int j = 0; j < 16; j++) sum += (sbyte)b[QsOffset + 16 * g + j];
                BinaryPrimitives.WriteInt16LittleEndian(b[(BsumsOffset + 2 * g)..], (short)sum);
            }
            BinaryPrimitives.WriteSingleLittleEndian(b, 1 / iscale);
        }
    }

    /// <summary>The block's fp32 scale.</summary>
    internal static float Scale(ReadOnlySpan<byte> block) => BinaryPrimitives.ReadSingleLittleEndian(block);

    /// <summary>The 256 quants of the block.</summary>
    internal static ReadOnlySpan<sbyte> Quants(ReadOnlySpan<byte> block) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(block.Slice(QsOffset, BlockSize));

    /// <summary>Sum of quants 16g..16g+15.</summary>
    internal static int BlockSum(ReadOnlySpan<byte> block, int g) => BinaryPrimitives.ReadInt16LittleEndian(block[(BsumsOffset + 2 * g)..]);
}
