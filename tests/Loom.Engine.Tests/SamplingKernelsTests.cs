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
}
