namespace Loom.Engine.Speculative;

/// <summary>
/// What a forward pass costs by its token count, as measured on this engine's own steps (a moving average per
/// count). The back-off reads it to decide how many draft tokens a step can afford: while a pass is bound by reading
/// the weights, more tokens are nearly free; once it is bound by arithmetic, each costs its share.
/// </summary>
internal sealed class StepCostModel(int maxTokens)
{
    private const double Smoothing = 0.2;
    private readonly double[] _seconds = new double[maxTokens + 1]; // 0 = not measured

    /// <summary>Records a pass over <paramref name="tokens"/> tokens that took <paramref name="seconds"/>.</summary>
    public void Record(int tokens, double seconds)
    {
        if (tokens < 1 || tokens > maxTokens || !(seconds > 0)) return;
        ref double s = ref _seconds[tokens];
        s = s == 0 ? seconds : s + Smoothing * (seconds - s);
    }

    /// <summary>
    /// Estimated seconds of a pass over <paramref name="tokens"/> tokens: the measurement, else the nearest measured
    /// smaller count (optimistic, so an untried size gets tried and measured), else the nearest larger; 0 when
    /// nothing is measured yet. A larger pass is never estimated cheaper than a smaller measured one.
    /// </summary>
    public double Estimate(int tokens)
    {
        tokens = Math.Clamp(tokens, 1, maxTokens);
        double best = 0;
        for (int t = 1; t <= tokens; t++) if (_seconds[t] > 0) best = Math.Max(best, _seconds[t]);
        if (best > 0) return best;
        for (int t = tokens + 1; t <= maxTokens; t++) if (_seconds[t] > 0) return _seconds[t];
        return 0;
    }
}
