using Loom.Engine.Sampling;

namespace Loom.Engine.Speculative;

/// <summary>
/// The speculative-sampling rule (Leviathan et al. 2023, Chen et al. 2023) for a sampled draft token: x was drawn
/// from the draft distribution q; it is kept with probability min(1, p(x)/q(x)), and otherwise the token is drawn
/// from the residual norm(max(0, p − q)). Whatever q is, the emitted token is distributed as p: x is emitted with
/// probability q(x)·min(1, p(x)/q(x)) = min(p(x), q(x)), and a rejection, of probability Σ max(0, p − q), draws
/// the rest, max(0, p(x) − q(x)). Both vectors are normalised and indexed by token id.
/// </summary>
internal static class SpeculativeSampling
{
    /// <summary>A token drawn from the normalised <paramref name="probs"/> with the uniform <paramref name="u"/> in [0, 1); never one of probability 0.</summary>
    public static int Draw(ReadOnlySpan<float> probs, double u)
    {
        double cum = 0;
        int last = -1;
        for (int i = 0; i < probs.Length; i++)
        {
            float p = probs[i];
            if (p <= 0f) continue;
            last = i;
            if (u < (cum += p)) return i;
        }
        // Rounding left the sum just under 1 and u above it: the last token with mass.
        return last >= 0 ? last : throw new NoSamplableTokenException();
    }

    /// <summary>
    /// The token emitted at a position whose draft token <paramref name="x"/> was drawn from <paramref name="q"/>,
    /// given the target's <paramref name="p"/>: <paramref name="x"/> itself when accepted, else a draw from the residual.
    /// One uniform for the decision, and one more after a rejection.
    /// </summary>
    public static int Verify(ReadOnlySpan<float> p, ReadOnlySpan<float> q, int x, ref SamplingRng rng)
    {
        // u < p/q, written without the division: accepted outright where p(x) >= q(x).
        if (rng.NextDouble() * q[x] < p[x]) return x;
        double residual = 0;
        for (int i = 0; i < p.Length; i++) if (p[i] > q[i]) residual += p[i] - q[i];
        // p and q agree to rounding (the rejection itself had probability ~0): p is the residual's limit.
        if (!(residual > 0)) return Draw(p, rng.NextDouble());
        double u = rng.NextDouble() * residual, cum = 0;
        int last = -1;
        for (int i = 0; i < p.Length; i++)
        {
            if (!(p[i] > q[i])) continue;
            last = i;
            if (u < (cum += p[i] - q[i])) return i;
        }
        return last;
    }
}
