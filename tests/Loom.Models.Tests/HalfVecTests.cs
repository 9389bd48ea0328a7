using Loom.Core.Kernels.Attention;

namespace Loom.Models.Tests;

/// <summary>The vector f16 conversions against .NET's scalar <see cref="Half"/> casts.</summary>
public class HalfVecTests
{
    [Fact]
    public unsafe void WidenEqualsHalfCastForEveryHalf()
    {
        var src = new Half[65536 + 7];
        for (int i = 0; i < src.Length; i++) src[i] = BitConverter.UInt16BitsToHalf((ushort)i);
        var dst = new float[src.Length];
        fixed (Half* s = src) fixed (float* d = dst) HalfVec.Widen(s, d, src.Length);
        for (int i = 0; i < src.Length; i++)
        {
            float e = (float)src[i];
            Assert.True(float.IsNaN(e) ? float.IsNaN(dst[i]) : BitConverter.SingleToInt32Bits(e) == BitConverter.SingleToInt32Bits(dst[i]),
                $"half 0x{i & 0xFFFF:X4}: expected {e:R}, got {dst[i]:R}");
        }
    }

    [Fact]
    public unsafe void WidenUnbiasedIsTheHalfCastTimesTwoToMinus112ForEveryHalf()
    {
        Assert.Equal(MathF.ScaleB(1, -112), HalfVec.TwoToMinus112);
        Assert.Equal(MathF.ScaleB(1, 112), HalfVec.TwoTo112);
        // Every half, in every lane position; then each special value alone in a vector of ordinary ones.
        var src = new Half[65536 + 7];
        for (int i = 0; i < src.Length; i++) src[i] = BitConverter.UInt16BitsToHalf((ushort)i);
        var lone = new List<Half>();
        foreach (ushort special in new ushort[] { 0x7C00, 0xFC00, 0x7E00, 0xFE01, 0x7C01 })
            for (int lane = 0; lane < 16; lane++)
                for (int i = 0; i < 16; i++) lone.Add(BitConverter.UInt16BitsToHalf(i == lane ? special : (ushort)(0x3C00 + 37 * i)));
        foreach (var input in new[] { src, lone.ToArray() })
        {
            var dst = new float[input.Length];
            fixed (Half* s = input) fixed (float* d = dst) HalfVec.WidenUnbiased(s, d, input.Length);
            for (int i = 0; i < input.Length; i++)
            {
                float e = (float)input[i] * HalfVec.TwoToMinus112;
                Assert.True(float.IsNaN(e) ? float.IsNaN(dst[i]) : BitConverter.SingleToInt32Bits(e) == BitConverter.SingleToInt32Bits(dst[i]),
                    $"half 0x{BitConverter.HalfToUInt16Bits(input[i]):X4}: expected {e:R}, got {dst[i]:R}");
                // The scaled product is the unscaled one: the reason the attention kernels widen this way.
                float q = (float)(Half)(1.5f + i % 7) * HalfVec.TwoTo112;
                if (float.IsFinite(e)) Assert.Equal(BitConverter.SingleToInt32Bits((float)input[i] * (1.5f + i % 7)), BitConverter.SingleToInt32Bits(q * dst[i]));
            }
        }
    }

    [Fact]
    public unsafe void NarrowEqualsHalfCast()
    {
        // Every f16 value, the midpoints between neighbours (ties), one f32 ulp either side of them, plus random floats.
        var xs = new List<float>();
        for (int i = 0; i < 65536; i++)
        {
            float a = (float)BitConverter.UInt16BitsToHalf((ushort)i);
            float b = (float)BitConverter.UInt16BitsToHalf((ushort)(i + 1));
            xs.Add(a);
            if (float.IsFinite(a) && float.IsFinite(b) && Math.Sign(a) == Math.Sign(b))
            {
                float mid = (float)(((double)a + b) / 2);
                xs.Add(mid); xs.Add(MathF.BitIncrement(mid)); xs.Add(MathF.BitDecrement(mid));
            }
        }
        var rng = new Random(3);
        for (int i = 0; i < 200_000; i++) xs.Add(BitConverter.Int32BitsToSingle(rng.Next() ^ (rng.Next(2) << 31)));
        xs.AddRange([65504f, 65519.99f, 65520f, 1e9f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 0f, -0f, 5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f]);
        var src = xs.ToArray();
        var dst = new Half[src.Length];
        var round = (float[])src.Clone();
        fixed (float* s = src) fixed (Half* d = dst) HalfVec.Narrow(s, d, src.Length);
        fixed (float* r = round) HalfVec.RoundTrip(r, round.Length);
        for (int i = 0; i < src.Length; i++)
        {
            Half e = (Half)src[i];
            Assert.True(Half.IsNaN(e) ? Half.IsNaN(dst[i]) : BitConverter.HalfToUInt16Bits(e) == BitConverter.HalfToUInt16Bits(dst[i]),
                $"{src[i]:R} (0x{BitConverter.SingleToUInt32Bits(src[i]):X8}): expected 0x{BitConverter.HalfToUInt16Bits(e):X4}, got 0x{BitConverter.HalfToUInt16Bits(dst[i]):X4}");
            Assert.True(float.IsNaN((float)e) ? float.IsNaN(round[i]) : (float)e == round[i] && float.IsNegative((float)e) == float.IsNegative(round[i]));
        }
    }
}
