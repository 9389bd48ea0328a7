namespace Loom.Engine.Tests;

/// <summary>Chi-square goodness of fit for sampler draws.</summary>
internal static class SamplingStatistics
{
    /// <summary>Pearson's statistic for observed counts against expected probabilities; categories with p = 0 must be empty.</summary>
    public static (double Statistic, int DegreesOfFreedom) ChiSquare(int[] counts, double[] expected)
    {
        var n = counts.Sum();
        double chi = 0;
        var categories = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            if (expected[i] == 0)
            {
                Assert.True(counts[i] == 0, $"token {i} has probability 0 but was drawn {counts[i]} times");
                continue;
            }
            var e = n * expected[i];
            chi += (counts[i] - e) * (counts[i] - e) / e;
            categories++;
        }
        return (chi, categories - 1);
    }

    /// <summary>Upper 0.001 critical values of the chi-square distribution, by degrees of freedom.</summary>
    public static double Critical001(int df) => df switch
    {
        1 => 10.828, 2 => 13.816, 3 => 16.266, 4 => 18.467, 5 => 20.515, 6 => 22.458, 7 => 24.322,
        8 => 26.124, 9 => 27.877, 10 => 29.588, 11 => 31.264, 12 => 32.909, 13 => 34.528, 14 => 36.123, 15 => 37.697,
        // Wilson–Hilferty: the cube root of chi-square over df is close to normal (within 0.5% here).
        > 15 => df * Math.Pow(1 - 2.0 / (9 * df) + 3.0902 * Math.Sqrt(2.0 / (9 * df)), 3),
        _ => throw new ArgumentOutOfRangeException(nameof(df)),
    };
}
