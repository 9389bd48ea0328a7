namespace Loom.Engine.Sampling;

/// <summary>
/// The sampling pipeline written as plainly as possible, in double precision with a full sort: the distribution
/// the optimised <see cref="Sampler"/> must draw from. Used by tests; never on the serving path.
/// </summary>
internal static class SamplerReference
{
    /// <summary>Probability of each token being drawn for these logits and token histories.</summary>
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

        var temperature = Math.Max(p.Temperature, Sampler.MinTemperature);
        for (var i = 0; i < v; i++) l[i] /= temperature;
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
}
