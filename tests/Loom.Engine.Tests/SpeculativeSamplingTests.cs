using Loom.Engine.Sampling;
using Loom.Engine.Speculative;
using Xunit.Abstractions;

namespace Loom.Engine.Tests;

/// <summary>
/// The speculative-sampling rule on its own (<see cref="SpeculativeSampling"/>): a draft token drawn from q, then
/// kept with probability min(1, p/q) or replaced from norm(max(0, p − q)), is distributed as p whatever q is
/// (chi-square, p = 0.001, over many draws), and accepted with probability Σ min(p, q). The distributions the
/// engine hands it come from <see cref="Sampler.Distribution"/>, checked against the reference pipeline.
/// </summary>
public class SpeculativeSamplingTests(ITestOutputHelper output)
{
    private const int Draws = 200_000;

    public static TheoryData<string, double[], double[]> HandMade => new()
    {
        { "q has mass where p has none", [0.5, 0.3, 0.2, 0, 0, 0], [0.1, 0.1, 0.1, 0.4, 0.3, 0] },
        { "p has mass where q has none", [0.2, 0.2, 0.2, 0.2, 0.15, 0.05], [0.7, 0.3, 0, 0, 0, 0] },
        { "disjoint supports", [0.5, 0.5, 0, 0], [0, 0, 0.25, 0.75] },
        { "q a point mass", [0.1, 0.4, 0.3, 0.2], [0, 0, 1, 0] },
        { "p a point mass", [0, 1, 0, 0], [0.25, 0.25, 0.25, 0.25] },
        { "p equals q", [0.4, 0.3, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1] },
        { "q close to p", [0.35, 0.3, 0.2, 0.1, 0.05], [0.3, 0.3, 0.25, 0.1, 0.05] },
    };

    [Theory]
    [MemberData(nameof(HandMade))]
    public void Emitted_tokens_follow_p_for_hand_made_distributions(string what, double[] p, double[] q) =>
        CheckRule(what, [.. p.Select(x => (float)x)], [.. q.Select(x => (float)x)], seed: (ulong)what.Length);

    /// <summary>Truncated distributions as the sampler leaves them (top-k, top-p, min-p, penalties), from unrelated logits.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Emitted_tokens_follow_p_for_truncated_distributions(int which)
    {
        const int vocab = 40;
        var rng = new Random(which);
        float[] Logits(double scale) => [.. Enumerable.Range(0, vocab).Select(_ => (float)(rng.NextDouble() * scale))];
        var target = Logits(6);
        // A draft that mostly agrees: the target's logits, disturbed.
        var draft = target.Select(x => x + (float)(rng.NextDouble() * 3 - 1.5)).ToArray();
        var (pp, qp) = which switch
        {
            1 => (new SamplingParams { TopP = 0.8f }, new SamplingParams { TopP = 0.8f }),
            2 => (new SamplingParams { TopK = 4 }, new SamplingParams { TopP = 0.9f, Temperature = 1.5f }),
            3 => (new SamplingParams { TopK = 8, TopP = 0.7f, MinP = 0.05f }, new SamplingParams { TopK = 3 }),
            _ => (new SamplingParams { MinP = 0.2f, Temperature = 0.7f }, new SamplingParams { TopK = 12, MinP = 0.1f }),
        };
        var p = Processed(pp, target);
        var q = Processed(qp, draft);
        output.WriteLine($"p keeps {p.Count(x => x > 0)} tokens, q keeps {q.Count(x => x > 0)}");
        CheckRule($"truncated {which}", p, q, seed: (ulong)which);
    }

    [Fact]
    public void Draw_follows_its_distribution_and_never_draws_a_zero()
    {
        float[] probs = [0, 0.25f, 0, 0.5f, 0.25f, 0];
        var rng = new SamplingRng(9);
        var counts = new int[probs.Length];
        for (int i = 0; i < Draws; i++) counts[SpeculativeSampling.Draw(probs, rng.NextDouble())]++;
        var (chi, df) = SamplingStatistics.ChiSquare(counts, [.. probs.Select(x => (double)x)]);
        Assert.True(chi < SamplingStatistics.Critical001(df), $"chi-square {chi:F2} with {df} df");
        Assert.Equal(4, SpeculativeSampling.Draw(probs, 0.9999999999));
        Assert.Throws<NoSamplableTokenException>(() => SpeculativeSampling.Draw(new float[3], 0.5));
    }

    /// <summary>The distribution the draft and verification read equals the reference pipeline's, with a draft's earlier tokens counted as output.</summary>
    [Theory]
    [InlineData(0.0f, 0, 1.0f, 0.0f)]
    [InlineData(0.9f, 0, 0.9f, 0.0f)]
    [InlineData(1.2f, 20, 1.0f, 0.0f)]
    [InlineData(1.0f, 30, 0.8f, 0.02f)]
    [InlineData(0.7f, 0, 1.0f, 0.05f)]
    public void Distribution_matches_the_reference_with_pending_tokens(float temperature, int topK, float topP, float minP)
    {
        const int vocab = 500;
        var rng = new Random(11);
        var raw = Enumerable.Range(0, vocab).Select(_ => (float)(rng.NextDouble() * 12 - 6)).ToArray();
        int[] prompt = [.. Enumerable.Range(0, 30).Select(_ => rng.Next(vocab))];
        int[] outputTokens = [.. Enumerable.Range(0, 12).Select(_ => rng.Next(vocab))];
        int[] pending = [outputTokens[0], outputTokens[3], rng.Next(vocab), 7, 7];
        var p = new SamplingParams
        {
            Temperature = temperature == 0 ? 1f : temperature, TopK = topK, TopP = topP, MinP = minP,
            RepetitionPenalty = 1.3f, PresencePenalty = 0.4f, FrequencyPenalty = 0.3f, Seed = 1,
        };
        var sampler = new Sampler(p, vocab);
        var probs = new float[vocab];
        sampler.Distribution(raw.ToArray(), prompt, outputTokens, pending, probs);
        var want = SamplerReference.Distribution(p, raw, prompt, [.. outputTokens, .. pending]);
        for (int i = 0; i < vocab; i++) Assert.True(Math.Abs(want[i] - probs[i]) < 1e-5, $"token {i}: {probs[i]} vs reference {want[i]}");
        Assert.Throws<InvalidOperationException>(() => new Sampler(SamplingParams.Greedy(4), vocab).Distribution(raw.ToArray(), prompt, outputTokens, pending, probs));
    }

    private static float[] Processed(SamplingParams p, float[] logits)
    {
        var probs = new float[logits.Length];
        new Sampler(p with { Seed = 1 }, logits.Length).Distribution(logits.ToArray(), [], [], [], probs);
        return probs;
    }

    /// <summary>Draws x from q and applies the rule <see cref="Draws"/> times: the emitted tokens must follow p, the acceptances Σ min(p, q).</summary>
    private void CheckRule(string what, float[] p, float[] q, ulong seed)
    {
        var rng = new SamplingRng(seed);
        var counts = new int[p.Length];
        int accepted = 0;
        for (int i = 0; i < Draws; i++)
        {
            int x = SpeculativeSampling.Draw(q, rng.NextDouble());
            int t = SpeculativeSampling.Verify(p, q, x, ref rng);
            if (t == x) accepted++;
            counts[t]++;
        }
        var (chi, df) = SamplingStatistics.ChiSquare(counts, [.. p.Select(x => (double)x)]);
        double alpha = p.Zip(q, (a, b) => (double)Math.Min(a, b)).Sum(), rate = (double)accepted / Draws;
        output.WriteLine($"{what}: chi-square {chi:F1} with {df} df; accepted {rate:F4}, Σ min(p, q) = {alpha:F4}");
        if (df >= 1) Assert.True(chi < SamplingStatistics.Critical001(df), $"{what}: chi-square {chi:F2} with {df} df exceeds the p=0.001 critical value");
        // Binomial spread: five standard deviations, and a little for the float rounding of p and q.
        Assert.True(Math.Abs(rate - alpha) < 5 * Math.Sqrt(Math.Max(0, alpha * (1 - alpha)) / Draws) + 1e-4, $"{what}: accepted {rate:F4}, expected {alpha:F4}");
    }
}
