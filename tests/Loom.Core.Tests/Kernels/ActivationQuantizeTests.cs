using Loom.Core.Quantization;

namespace Loom.Core.Tests.Kernels;

/// <summary>The SIMD Q8_0 activation quantizer against its scalar form, bit for bit.</summary>
public class ActivationQuantizeTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public void Q8_0FastEqualsScalar(int blocks)
    {
        var rng = new Random(blocks);
        var x = new float[blocks * 32];
        for (int i = 0; i < x.Length; i++)
        {
            int b = i / 32;
            x[i] = (b % 4) switch
            {
                0 => (float)(rng.NextDouble() * 2 - 1),
                1 => 0f,
                // Exact halves after scaling land on rounding ties.
                2 => (i % 32 == 0 ? 127f : rng.Next(-254, 255) / 2f),
                _ => (float)(rng.NextDouble() * 2 - 1) * 1e-30f,
            };
        }
        var fast = new byte[blocks * 34];
        var scalar = new byte[blocks * 34];
        Q8_0.Quantize(x, fast);
        Q8_0.QuantizeScalar(x, scalar);
        Assert.Equal(scalar, fast);
    }
}
