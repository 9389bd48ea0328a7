using Loom.Core.Quantization;

namespace Loom.Core.Tests.Kernels;

/// <summary>The SIMD Q8_K quantizer must write the same bytes as the scalar reference for any input.</summary>
public class Q8_KFastTests
{
    private static void AssertSameBytes(float[] x)
    {
        Assert.True(Q8_KFast.IsSupported || !System.Runtime.Intrinsics.X86.Avx2.IsSupported);
        var want = new byte[x.Length / 256 * Q8_K.BlockBytes];
        var got = new byte[want.Length];
        Array.Fill(got, (byte)0xAA);
        Q8_K.QuantizeReference(x, want);
        if (Q8_KFast.IsSupported) Q8_KFast.Quantize(x, got);
        else Q8_K.Quantize(x, got);
        for (int i = 0; i < want.Length; i++)
            Assert.True(want[i] == got[i], $"byte {i} (block {i / Q8_K.BlockBytes}, offset {i % Q8_K.BlockBytes}): reference {want[i]}, fast {got[i]}");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 8)]
    [InlineData(3, 43)]
    public void Random_gaussian_rows(int seed, int blocks)
    {
        var r = new Random(seed);
        for (int rep = 0; rep < 20; rep++) AssertSameBytes(TileKernelData.Floats(r, 256 * blocks, 256));
    }

    [Fact]
    public void Values_on_rounding_ties()
    {
        // max = -127 makes iscale exactly 1, so x + 0.5 lands on ties that must go to even.
        var x = new float[256];
        for (int j = 0; j < 256; j++) x[j] = (j - 128) * 0.5f;
        x[0] = -127;
        AssertSameBytes(x);
        // and with the positive maximum first, iscale = -1
        x[0] = 127;
        AssertSameBytes(x);
    }

    [Fact]
    public void Ties_for_the_largest_magnitude_take_the_first()
    {
        var r = new Random(5);
        var x = TileKernelData.Floats(r, 512, 512).Select(v => v * 0.1f).ToArray();
        x[17] = 3; x[200] = -3;     // block 0: +3 first
        x[256 + 40] = -3; x[256 + 41] = 3; // block 1: -3 first
        AssertSameBytes(x);
    }

    [Fact]
    public void Zero_signed_zero_and_single_value_blocks()
    {
        var x = new float[256 * 4];
        for (int j = 256; j < 512; j++) x[j] = -0f;
        x[512 + 255] = -1e-30f;
        x[768] = 1e30f;
        AssertSameBytes(x);
    }

    [Fact]
    public void Extreme_magnitudes_subnormals_infinities_and_nan()
    {
        var r = new Random(11);
        float[] specials = [float.MaxValue, -float.MaxValue, float.Epsilon, -float.Epsilon, 1e-40f, float.PositiveInfinity, float.NegativeInfinity, float.NaN];
        foreach (var s in specials)
        {
            var x = TileKernelData.Floats(r, 512, 256);
            x[r.Next(256)] = s;
            for (int j = 256; j < 512; j++) x[j] = j % 3 == 0 ? s : 0;
            AssertSameBytes(x);
        }
        var subnormalOnly = Enumerable.Range(0, 256).Select(j => (j - 128) * float.Epsilon).ToArray();
        AssertSameBytes(subnormalOnly);
        var allNaN = Enumerable.Repeat(float.NaN, 256).ToArray();
        AssertSameBytes(allNaN);
    }
}
