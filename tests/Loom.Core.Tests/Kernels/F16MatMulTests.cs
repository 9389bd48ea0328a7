using Loom.Core.Kernels;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Core.Tests.Kernels;

/// <summary>
/// F16 weights against several tokens take the widened-row paths (four tokens per pass, or sixteen in
/// <see cref="F16Gemm"/> where it applies); every output must equal the per-pair dot product bit for bit, whatever the
/// token count, block boundary or row split.
/// </summary>
public unsafe class F16MatMulTests
{
    [Theory]
    [InlineData(64, 8, 1)]
    [InlineData(64, 8, 4)]
    [InlineData(256, 24, 9)]
    [InlineData(2048, 16, 70)]
    [InlineData(1056, 13, 9)]  // slices of 512 with a partial last one; 13 rows = four 3-row groups and one lone row
    [InlineData(48, 5, 7)] // k % 16 == 0 but odd rows; and 48 is not a multiple of 64
    [InlineData(40, 3, 6)] // k % 16 != 0: the per-pair path
    [InlineData(64, 6, 8)] // F16Gemm: one block, half its lanes empty
    [InlineData(272, 13, 17)] // two rows left over after two 6-row tiles; a second block with one token
    [InlineData(1056, 19, 40)] // three slices, the last of 32; blocks of 16, 16 and 8
    [InlineData(2048, 12, 48)]
    [InlineData(64, 6, 16)] // the fewest tokens F16Gemm takes where it holds 32 (512-bit vectors)
    [InlineData(528, 12, 33)] // 512-bit: a full block of 32 and one of a single token
    [InlineData(8208, 7, 9)] // past F16Gemm.MaxK: the dot-form tiles
    public void MultiTokenF16EqualsPerPairDots(int k, int rows, int tokens) => CheckAgainstPairs(k, rows, tokens, special: false);

    /// <summary>Infinities, NaNs and subnormals go through every multi-token path as through the per-pair dot.</summary>
    [Theory]
    [InlineData(64, 7, 5)]
    [InlineData(528, 13, 20)]
    public void MultiTokenF16WithSpecialValuesEqualsPerPairDots(int k, int rows, int tokens) => CheckAgainstPairs(k, rows, tokens, special: true);

    private static void CheckAgainstPairs(int k, int rows, int tokens, bool special)
    {
        var rng = new Random(k + rows + tokens);
        var weights = new Half[rows * k];
        for (int i = 0; i < weights.Length; i++)
            weights[i] = special && i % 5 == 0 ? BitConverter.UInt16BitsToHalf((ushort)rng.Next(0, 0x400)) : (Half)(rng.NextDouble() * 2 - 1);
        if (special)
        {
            weights[k + 17] = Half.PositiveInfinity;
            weights[3 * k + 5] = Half.NaN;
            weights[rows * k - 1] = Half.NegativeInfinity;
        }
        fixed (Half* wp = weights)
        {
            var w = new WeightTensor("w", GgmlType.F16, [k, rows], (nint)wp, weights.Length * 2);
            var x = new float[tokens * k];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            var y = new float[tokens * rows];
            MatMul.Compute(w, x, tokens, y, new byte[MatMul.ScratchBytes(w, tokens)]);
            var xBytes = new byte[k * 4];
            for (int t = 0; t < tokens; t++)
            {
                Buffer.BlockCopy(x, t * k * 4, xBytes, 0, k * 4);
                for (int r = 0; r < rows; r++)
                    Assert.Equal(Quants.VecDot(GgmlType.F16, w.Row(r), xBytes, k), y[t * rows + r]);
            }
        }
    }

    /// <summary>
    /// Decode against finite f16 weights takes the prescaled path where it applies; results equal the per-pair dots
    /// bit for bit, subnormal weights and activations included, and activations too large to prescale fall back.
    /// </summary>
    [Theory]
    [InlineData(1, 1f, 24)]
    [InlineData(3, 1f, 24)]
    [InlineData(1, 70000f, 24)] // over the prescale limit: the exact path
    [InlineData(2, 1e-30f, 24)]
    [InlineData(1, 1f, 27)] // rows left over after the four-row groups, in each thread's share
    [InlineData(2, 1f, 7)]
    public void DecodeAgainstFiniteF16EqualsPerPairDots(int tokens, float xScale, int rows)
    {
        const int k = 256;
        var rng = new Random(tokens);
        var weights = new Half[rows * k];
        for (int i = 0; i < weights.Length; i++)
            weights[i] = i % 7 == 0 ? BitConverter.UInt16BitsToHalf((ushort)rng.Next(0, 0x400)) // subnormals, ±0
                : (Half)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-14, 15)));
        fixed (Half* wp = weights)
        {
            var w = new WeightTensor("w", GgmlType.F16, [k, rows], (nint)wp, weights.Length * 2);
            w.FiniteF16 = Dot.AllFiniteF16(w);
            Assert.True(w.FiniteF16);
            var x = new float[tokens * k];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * xScale;
            var y = new float[tokens * rows];
            MatMul.Compute(w, x, tokens, y, new byte[MatMul.ScratchBytes(w, tokens)], Enumerable.Repeat(true, tokens).ToArray());
            var xBytes = new byte[k * 4];
            for (int t = 0; t < tokens; t++)
            {
                Buffer.BlockCopy(x, t * k * 4, xBytes, 0, k * 4);
                for (int r = 0; r < rows; r++)
                    Assert.Equal(Quants.VecDot(GgmlType.F16, w.Row(r), xBytes, k), y[t * rows + r]);
            }
        }
    }

    [Fact]
    public void AnInfOrNaNWeightIsNotFinite()
    {
        var weights = new Half[64 * 8];
        fixed (Half* wp = weights)
        {
            var w = new WeightTensor("w", GgmlType.F16, [64, 8], (nint)wp, weights.Length * 2);
            Assert.True(Dot.AllFiniteF16(w));
            weights[300] = Half.PositiveInfinity;
            Assert.False(Dot.AllFiniteF16(w));
            weights[300] = Half.NaN;
            Assert.False(Dot.AllFiniteF16(w));
        }
    }

    [Fact]
    public void WideningEqualsSystemHalfForEveryValue()
    {
        var all = new Half[65536];
        for (int i = 0; i < all.Length; i++) all[i] = BitConverter.UInt16BitsToHalf((ushort)i);
        var got = new float[all.Length];
        FloatFormats.F16ToF32(all, got);
        for (int i = 0; i < all.Length; i++)
        {
            float want = (float)all[i];
            if (float.IsNaN(want)) Assert.True(float.IsNaN(got[i]));
            else Assert.Equal(BitConverter.SingleToUInt32Bits(want), BitConverter.SingleToUInt32Bits(got[i]));
        }
    }
}
