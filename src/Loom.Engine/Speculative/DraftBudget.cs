namespace Loom.Engine.Speculative;

/// <summary>
/// The back-off decision: how many of the proposed draft tokens a step runs. Each candidate token is worth the
/// probability that it is accepted (a sequence's i-th draft token is accepted with about α^i, α its recent
/// per-token acceptance); the step's throughput with the best n candidates is (decodes + their worth) / cost(decodes + n),
/// and the n that maximises it wins, within the hard cap. With a cost that grows with tokens (a large batch, or a
/// machine bound by arithmetic) n falls to 0 and the step decodes plainly.
/// </summary>
internal static class DraftBudget
{
    /// <param name="decodes">Decode tokens the step runs anyway.</param>
    /// <param name="worth">Each candidate's acceptance probability, best first.</param>
    /// <param name="cap">Most draft tokens allowed.</param>
    /// <param name="cost">Estimated seconds of a pass by token count (0 = unknown, taken as flat).</param>
    public static int Choose(int decodes, ReadOnlySpan<double> worth, int cap, StepCostModel cost)
    {
        int n = Math.Min(worth.Length, cap);
        double baseCost = cost.Estimate(decodes);
        if (n <= 0) return 0;
        if (baseCost == 0) return n; // nothing measured yet: try the most, and measure it
        int best = 0;
        double bestRate = decodes / baseCost, gained = decodes;
        for (int i = 0; i < n; i++)
        {
            gained += worth[i];
            double rate = gained / cost.Estimate(decodes + i + 1);
            if (rate > bestRate) { bestRate = rate; best = i + 1; }
        }
        return best;
    }
}
