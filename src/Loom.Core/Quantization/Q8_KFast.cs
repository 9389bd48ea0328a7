using System.Buffers.Binary;
using System.Numerics;

namespace Loom.Core.Quantization;

/// <summary>
/// AVX2 Q8_K activation quantizer, bit-exact with <see cref="Q8_K.QuantizeReference"/> for every input, NaN and
/// infinities included: the same value of largest magnitude (its first occurrence), the same float operations per
/// element (iscale·x, then ggml's nearest_int via the 1.5·2^23 addition, then min(127)), the same truncation to 8 bits,
/// and bsums summed from the stored bytes.
/// </summary>
internal static unsafe class Q8_KFast
{
    public static bool IsSupported => Avx2.IsSupported;

    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, Q8_K.BlockSize, Q8_K.BlockBytes, dst.Length, nameof(Q8_K));
        fixed (float* xs = src)
        fixed (byte* bs = dst)
        {
            for (int i = 0; i < nb; i++) Block(xs + i * Q8_K.BlockSize, bs + i * Q8_K.BlockBytes);
        }
    }

    private static void Block(float* x, byte* b)
    {
        var absMask = Vector256.Create(0x7FFFFFFF).AsSingle();
        // maxps returns its second operand when either is NaN, so NaNs never become the maximum, as in the reference.
        var m = Vector256<float>.Zero;
        for (int j = 0; j < Q8_K.BlockSize; j += 8) m = Avx.Max(Avx.And(Avx.LoadVector256(x + j), absMask), m);
        var m4 = Sse.Max(m.GetLower(), m.GetUpper());
        m4 = Sse.Max(m4, Sse.MoveHighToLow(m4, m4));
        m4 = Sse.MaxScalar(m4, Sse.Shuffle(m4, m4, 0x55));
        float amax = m4.ToScalar();
        if (amax == 0)
        {
            new Span<byte>(b, Q8_K.BlockBytes).Clear();
            return;
        }

        float max = 0;
        var amaxV = Vector256.Create(amax);
        for (int j = 0; j < Q8_K.BlockSize; j += 8)
        {
            uint hits = (uint)Avx.MoveMask(Avx.CompareEqual(Avx.And(Avx.LoadVector256(x + j), absMask), amaxV));
            if (hits != 0)
            {
                max = x[j + BitOperations.TrailingZeroCount(hits)];
                break;
            }
        }

        float iscale = -127f / max;
        var scale = Vector256.Create(iscale);
        var magic = Vector256.Create(12582912f);
        var mantissa = Vector256.Create(0x007FFFFF);
        var bias = Vector256.Create(0x00400000);
        var top = Vector256.Create(127);
        var lowByte = Vector256.Create(0xFF);
        var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
        var flip = Vector256.Create((byte)0x80);
        short* bsums = (short*)(b + 260);
        for (int j = 0; j < Q8_K.BlockSize; j += 32)
        {
            // Four vectors of eight quants as int, reduced to their low bytes (what the reference's (sbyte) cast keeps).
            var q0 = Avx2.And(Quant(x + j, scale, magic, mantissa, bias, top), lowByte);
            var q1 = Avx2.And(Quant(x + j + 8, scale, magic, mantissa, bias, top), lowByte);
            var q2 = Avx2.And(Quant(x + j + 16, scale, magic, mantissa, bias, top), lowByte);
            var q3 = Avx2.And(Quant(x + j + 24, scale, magic, mantissa, bias, top), lowByte);
            var packed = Avx2.PackUnsignedSaturate(Avx2.PackUnsignedSaturate(q0, q1).AsInt16(), Avx2.PackUnsignedSaturate(q2, q3).AsInt16());
            var bytes = Avx2.PermuteVar8x32(packed.AsInt32(), order).AsByte();
            Avx.Store(b + 4 + j, bytes);

            // Σ of each 16 signed bytes: sum of (q + 128) per 8 bytes with vpsadbw, pairs added, 16·128 taken off.
            var sad = Avx2.SumAbsoluteDifferences(Avx2.Xor(bytes, flip), Vector256<byte>.Zero).AsInt64();
            var pairs = Avx2.Add(sad, Avx2.ShiftRightLogical128BitLane(sad, 8));
            bsums[j / 16] = (short)(pairs.GetElement(0) - 2048);
            bsums[j / 16 + 1] = (short)(pairs.GetElement(2) - 2048);
        }
        BinaryPrimitives.WriteSingleLittleEndian(new Span<byte>(b, 4), 1 / iscale);
    }

    /// <summary>min(127, nearest_int(iscale·x)) for eight values, operation for operation as the reference.</summary>
    private static Vector256<int> Quant(float* x, Vector256<float> scale, Vector256<float> magic, Vector256<int> mantissa, Vector256<int> bias, Vector256<int> top)
    {
        var v = Avx.Add(Avx.Multiply(scale, Avx.LoadVector256(x)), magic);
        return Avx2.Min(Avx2.Subtract(Avx2.And(v.AsInt32(), mantissa), bias), top);
    }
}
