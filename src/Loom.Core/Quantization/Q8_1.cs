namespace Loom.Core.Quantization;

/// <summary>
/// Q8_1: 32 values per 36-byte block, the activation format for Q4_1/Q5_1 weights.
/// Layout: <c>Half d</c> (0-1), <c>Half s</c> (2-3, = d * sum(qs) rounded to fp16), <c>sbyte qs[32]</c> (4-35);
/// value = qs[j] * d. ggml has no dot product with Q8_1 as the weight side, so there is no Dot here.
/// </summary>
/// <remarks>
/// As with <see cref="Q8_0"/>, <see cref="Quantize"/> is ggml-cpu's x86 runtime quantizer (id = 127/amax, halves to
/// even) and <see cref="QuantizeReference"/> is quantize_row_q8_1_ref (id = 1/d, roundf). Both compute
/// s from the float d (before fp16 rounding) times the integer sum.
/// </remarks>
public static class Q8_1
{
    public const int BlockSize = 32;
    public const int BlockBytes = 36;

    /// <summary>Expands <c>dst.Length</c> values (a multiple of 32); s is not needed for that.</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = QuantMath.Blocks(dst.Length, BlockSize, BlockBytes, src.Length, nameof(Q8_1));
        for (int i = 0; i < nb; i++)
        {
            var b = src.Slice(i * BlockBytes, BlockBytes);
            var y = dst.Slice(i * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(b, 0);
            for (int j = 0; j < BlockSize; j++) y[j] = (sbyte)b[4 + j] * d;
        }
    }

    /// <summary>ggml-cpu's x86 quantize_row_q8_1 (activations): id = 127/amax, round half to even.</summary>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q8_1));
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockSize, BlockSize);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            float amax = Q8_0.AbsMax(x);
            float d = amax / 127f;
            float id = amax != 0 ? 127f / amax : 0f;
            int sum = 0;
            for (int j = 0; j < BlockSize; j++)
            {
                sbyte q = Q8_0.SaturateToSByte(QuantMath.RoundEven(x[j] * id));
                b[4 + j] = (byte)q;
                sum += q;
            }
            QuantMath.WriteHalf(b, 0, d);
            QuantMath.WriteHalf(b, 2, d * sum);
        }
    }

    /// <summary>quantize_row_q8_1_ref: d = amax/127, id = 1/d, roundf.</summary>
    public static void QuantizeReference(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q8_1));
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockSize, BlockSize);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            float d = Q8_0.AbsMax(x) / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            int sum = 0;
            for (int j = 0; j < BlockSize; j++)
            {
                sbyte q = (sbyte)(int)QuantMath.RoundAway(x[j] * id);
                b[4 + j] = (byte)q;
                sum += q;
            }
            QuantMath.WriteHalf(b, 0, d);
            QuantMath.WriteHalf(b, 2, sum * d);
        }
    }
}
