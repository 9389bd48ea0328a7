using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

/// <summary>The vectorised passes against the plain loops beside them, at lengths around the vector width.</summary>
public class SamplingKernelsTests
{
    private static float[] Data(int n)
    {
        var rng = new SamplingRng((ulong)n);
        var x = new float[n];
        for (var i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 40 - 20);
        return x;
    }

    public static TheoryData<int> Lengths => [1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 1000, 32_001];

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Max_matches_reference(int n)
    {
        var x = Data(n);
        x[n - 1] = 100f; // in the scalar tail
        Assert.Equal(Kernels.MaxReference(x), Kernels.Max(x));
        x[0] = 200f;
        Assert.Equal(Kernels.MaxReference(x), Kernels.Max(x));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void ExpShiftedSum_matches_reference(int n)
    {
        var x = Data(n);
        var fast = new float[n];
        var slow = new float[n];
        var shift = Kernels.Max(x);
        var a = Kernels.ExpShiftedSum(x, shift, fast);
        var b = Kernels.ExpShiftedSumReference(x, shift, slow);
        Assert.Equal(b, a, b * 1e-6);
        Assert.Equal(b, Kernels.ExpShiftedSumNoStore(x, shift), b * 1e-6);
        for (var i = 0; i < n; i++)
            Assert.True(Math.Abs(fast[i] - slow[i]) <= 2e-7 * slow[i] + 1e-37, $"{i}: {fast[i]} vs {slow[i]}");
        Assert.Equal(1f, fast.Max(), 1e-6f); // exp(0) at the maximum
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Divide_matches_scalar_division_exactly(int n)
    {
        var x = Data(n);
        var expected = x.Select(v => v / 0.7f).ToArray();
        Kernels.Divide(x, 0.7f);
        Assert.Equal(expected, x);
    }

    [Fact]
    public void RankKey_orders_by_logit_then_id_and_round_trips()
    {
        float[] values = [float.NegativeInfinity, -1e30f, -2.5f, -0f, 0f, 1e-40f, 1.5f, 3e38f, float.PositiveInfinity];
        for (var a = 0; a < values.Length; a++)
        {
            Assert.Equal(values[a] + 0f, RankKey.Logit(RankKey.Make(values[a], 5)));
            Assert.Equal(5, RankKey.Id(RankKey.Make(values[a], 5)));
            for (var b = 0; b < values.Length; b++)
            {
                var ka = RankKey.Make(values[a], 10);
                var kb = RankKey.Make(values[b], 3);
                // Smaller key = better: higher logit, or equal logit and lower id.
                Assert.Equal(values[a] > values[b] || (values[a] == values[b] && 10 < 3), ka < kb);
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(33)]
    public void NaN_or_positive_infinity_is_found_at_every_position(int n)
    {
        foreach (var bad in new[] { float.NaN, float.PositiveInfinity })
            for (var at = 0; at < n; at++)
            {
                var x = new float[n];
                x[at] = bad;
                Assert.True(Kernels.HasNaNOrPositiveInfinity(x), $"{bad} at {at} of {n}");
                x[at] = float.NegativeInfinity;
                Assert.False(Kernels.HasNaNOrPositiveInfinity(x));
            }
    }

    [Fact]
    public void Divide_saturates_only_finite_overflow()
    {
        float[] x = [3e38f, -3e38f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1f, 2e38f, -1e38f, 5f, 3e38f, -3e38f];
        Kernels.Divide(x, 0.01f);
        Assert.Equal([float.MaxValue, -float.MaxValue, float.PositiveInfinity, float.NegativeInfinity], x[..4]);
        Assert.True(float.IsNaN(x[4]));
        Assert.Equal([100f, float.MaxValue, -float.MaxValue, 500f, float.MaxValue, -float.MaxValue], x[5..]);
    }
}
