using System.Buffers.Binary;

namespace Loom.Core.Quantization;

/// <summary>Small helpers shared by the block formats: fp16 fields and ggml's rounding primitives.</summary>
internal static class QuantMath
{
    /// <summary>Reads a little-endian fp16 field and widens it exactly.</summary>
    public static float ReadHalf(ReadOnlySpan<byte> b, int offset) => (float)BinaryPrimitives.ReadHalfLittleEndian(b[offset..]);

    /// <summary>Stores <paramref name="v"/> as fp16, round-to-nearest-even (what F16C and ggml's software path both do).</summary>
    public static void WriteHalf(Span<byte> b, int offset, float v) => BinaryPrimitives.WriteHalfLittleEndian(b[offset..], (Half)v);

    /// <summary>
    /// ggml's nearest_int: adding 1.5*2^23 forces the float adder to round to an integer (ties to even),
    /// and the integer is then read back from the mantissa bits. Valid for |v| &lt;= 2^22.
    /// </summary>
    public static int NearestInt(float v)
    {
        float val = v + 12582912f;
        int i = BitConverter.SingleToInt32Bits(val);
        return (i & 0x007fffff) - 0x00400000;
    }

    /// <summary>C's roundf: halves go away from zero (ggml's _ref quantizers use it).</summary>
    public static float RoundAway(float v) => MathF.Round(v, MidpointRounding.AwayFromZero);

    /// <summary>_mm256_round_ps(_MM_ROUND_NEAREST): halves go to even (ggml's x86 activation quantizers use it).</summary>
    public static float RoundEven(float v) => MathF.Round(v, MidpointRounding.ToEven);

    /// <summary>
    /// The value of largest magnitude (the first, on ties), signed, and its magnitude: the symmetric quantizers scale
    /// by it so that it lands exactly on the most negative quant.
    /// </summary>
    public static float MaxByMagnitude(ReadOnlySpan<float> x, out float amax)
    {
        float max = 0;
        amax = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        return max;
    }

    /// <summary>The smallest and largest value (float.MaxValue and -float.MaxValue for none), as the offset quantizers take them.</summary>
    public static (float Min, float Max) Range(ReadOnlySpan<float> x)
    {
        float min = float.MaxValue, max = -float.MaxValue;
        for (int i = 0; i < x.Length; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
        }
        return (min, max);
    }

    /// <summary>Throws unless <paramref name="n"/> elements fit whole blocks in both spans.</summary>
    public static int Blocks(int n, int blockSize, int blockBytes, int srcBytes, string type)
    {
        if (n % blockSize != 0) throw new ArgumentException($"{type}: {n} elements is not a multiple of the block size {blockSize}");
        int nb = n / blockSize;
        if (srcBytes < nb * blockBytes) throw new ArgumentException($"{type}: {nb} blocks need {nb * blockBytes} bytes, got {srcBytes}");
        return nb;
    }
}
