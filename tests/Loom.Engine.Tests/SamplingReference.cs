using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

/// <summary>
/// The sampling pipeline written as plainly as possible in double precision, with a full sort: the distribution
/// the optimised <see cref="Sampler"/> must draw from.
/// </summary>
internal static class SamplingReference
{
    public static double[] Distribution(SamplingParams p, ReadOnlySpan<float> raw, int[]? prompt = null, int[]? output = null)
    {
        prompt ??= [];
        output ??= [];
        var v = raw.Length;
        var l = new double[v];
        for (var i = 0; i < v; i++) l[i] = raw[i];

        var seen = new HashSet<int>(prompt.Concat(output));
        foreach (var t in seen)
            if (p.RepetitionPenalty != 1f)
                l[t] = l[t] > 0 ? l[t] / p.RepetitionPenalty : l[t] * p.RepetitionPenalty;
        foreach (var g in output.GroupBy(t => t))
            l[g.Key] -= p.FrequencyPenalty * g.Count() + p.PresencePenalty;

        var probs = new double[v];
        if (p.IsGreedy)
        {
            var best = 0;
            for (var i = 1; i < v; i++) if (l[i] > l[best]) best = i;
            probs[best] = 1;
            return probs;
        }

        for (var i = 0; i < v; i++) l[i] /= p.Temperature;
        var order = Enumerable.Range(0, v).OrderByDescending(i => l[i]).ThenBy(i => i).ToList();
        if (p.TopK > 0) order = order.Take(p.TopK).ToList();

        var max = l[order[0]];
        var sum = order.Sum(i => Math.Exp(l[i] - max));
        var keep = new List<int>();
        double cum = 0;
        foreach (var i in order)
        {
            if (cum >= p.TopP) break;
            keep.Add(i);
            cum += Math.Exp(l[i] - max) / sum;
        }
        keep = keep.Where(i => Math.Exp(l[i] - max) >= p.MinP).ToList(); // p_i / p_max

        var total = keep.Sum(i => Math.Exp(l[i] - max));
        foreach (var i in keep) probs[i] = Math.Exp(l[i] - max) / total;
        return probs;
    }

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
        _ => throw new ArgumentOutOfRangeException(nameof(df)),
    };
}
