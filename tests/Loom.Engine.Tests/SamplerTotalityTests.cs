using FsCheck;
using FsCheck.Fluent;
using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

/// <summary>
/// Sampling is total: whatever the logits (NaN, ±∞, values near float.MaxValue) and whatever the parameters, a
/// sample returns in bounded time either a valid token id that the NaN/∞ policy allows, or, only when no token is
/// left, <see cref="NoSamplableTokenException"/>.
/// </summary>
public class SamplerTotalityTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    private static readonly float[] Specials =
    [
        float.NaN, -float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue,
        3e38f, -3e38f, 1e30f, -1e30f, 0f, -0f, float.Epsilon, -float.Epsilon, 1f, -1f,
    ];

    public sealed record Case(float[] Logits, SamplingParams Params, int[] Prompt, int[] Output, int[] Eos)
    {
        public override string ToString() =>
            $"logits [{string.Join(", ", Logits.Select(l => l.ToString("R")))}], {Params}, prompt [{string.Join(",", Prompt)}], output [{string.Join(",", Output)}], eos [{string.Join(",", Eos)}]";
    }

    private static Gen<float> Logit =>
        Gen.Frequency(
            (3, Gen.Elements(Specials)),
            (3, Gen.Choose(-2000, 2000).Select(i => i / 100f)),
            (1, Gen.Choose(-10, 10).Select(i => (float)i))); // ties

    private static Gen<SamplingParams> Params(int vocab) =>
        from temperature in Gen.Elements(0f, 1e-6f, 0.01f, 0.5f, 1f, 2f, 100f)
        from topK in Gen.Elements(-1, 0, 1, 2, 3, vocab - 1, vocab, vocab + 5)
        from topP in Gen.Elements(1f, 0.99f, 0.9f, 0.5f, 1e-6f)
        from minP in Gen.Elements(0f, 1e-6f, 0.05f, 0.5f, 1f)
        from repetition in Gen.Elements(1f, 1.3f, 0.5f, 1e-3f, 100f)
        from presence in Gen.Elements(0f, 1.5f, -2f)
        from frequency in Gen.Elements(0f, 0.5f, -2f)
        from minTokens in Gen.Elements(0, 0, 3)
        from stop in Gen.Elements(Array.Empty<int>(), [0], [vocab - 1])
        from seed in Gen.Choose(0, int.MaxValue)
        select new SamplingParams
        {
            Temperature = temperature, TopK = topK, TopP = topP, MinP = minP, RepetitionPenalty = repetition,
            PresencePenalty = presence, FrequencyPenalty = frequency, MinTokens = minTokens, MaxTokens = 16,
            StopTokenIds = stop, Seed = (ulong)seed,
        };

    private static Gen<Case> Cases =>
        from vocab in Gen.Frequency((3, Gen.Choose(1, 12)), (2, Gen.Choose(13, 300)), (1, Gen.Elements(4096, 5000)))
        from logits in Gen.ArrayOf(Logit, vocab)
        from p in Params(vocab)
        from prompt in Gen.ArrayOf(Gen.Choose(0, vocab - 1)).Select(a => a.Take(20).ToArray())
        from output in Gen.ArrayOf(Gen.Choose(0, vocab - 1)).Select(a => a.Take(6).ToArray())
        from eos in Gen.Elements(Array.Empty<int>(), [0])
        select new Case(logits, p, prompt, output, eos);

    private static void Verify(Case c)
    {
        var logits = (float[])c.Logits.Clone();
        // The engine masks what may not end the sequence yet (min_tokens) before the sampler sees the logits.
        OutputProcessor.MaskUntilMinTokens(c.Params, c.Eos.ToHashSet(), c.Output.Length, logits);
        var sampler = new Sampler(c.Params, logits.Length);
        // A hang must fail this test rather than the whole run: the sample runs on its own thread with a deadline.
        var task = Task.Run(() => sampler.Sample(logits, c.Prompt, c.Output));
        bool finished;
        try { finished = task.Wait(Limit); }
        catch (AggregateException e) when (e.InnerException is NoSamplableTokenException) { finished = true; }
        Assert.True(finished, $"sampling did not return within {Limit}: {c}");

        // The policy, stated on the raw logits: min-tokens masking removes stop ids, NaN and -∞ are excluded, and
        // +∞ tokens (if any) are the only candidates.
        var raw = (float[])c.Logits.Clone();
        if (c.Output.Length < c.Params.MinTokens)
            foreach (var id in c.Params.StopTokenIds.Concat(c.Params.IgnoreEos ? [] : c.Eos)) raw[id] = float.NegativeInfinity;
        bool anyCandidate = raw.Any(v => !float.IsNaN(v) && !float.IsNegativeInfinity(v));
        bool anyPositiveInfinity = raw.Any(float.IsPositiveInfinity);

        if (task.IsFaulted)
        {
            Assert.False(anyCandidate, $"threw {task.Exception!.InnerException!.GetType().Name} though candidates exist: {c}");
            return;
        }
        int token = task.Result;
        Assert.InRange(token, 0, raw.Length - 1);
        Assert.False(float.IsNaN(raw[token]) || float.IsNegativeInfinity(raw[token]), $"picked excluded token {token}: {c}");
        if (anyPositiveInfinity) Assert.True(float.IsPositiveInfinity(raw[token]), $"picked {token} over a +∞ token: {c}");
    }

    [Fact]
    public void Any_logits_and_any_parameters_give_a_valid_token_or_the_typed_error() =>
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(2000), Prop.ForAll(Arb.From(Cases), (Case c) => Verify(c)));

    [Theory]
    [InlineData(0f)]
    [InlineData(1f)]
    public void NaN_everywhere_is_the_typed_error(float temperature)
    {
        var s = new Sampler(new SamplingParams { Temperature = temperature, TopK = 2, TopP = 0.5f, Seed = 1 }, 4);
        Assert.Throws<NoSamplableTokenException>(() => s.Sample([float.NaN, float.NaN, float.NegativeInfinity, float.NaN], [], []));
    }

    [Fact]
    public void NaN_is_excluded_and_the_rest_sample_normally()
    {
        var s = new Sampler(new SamplingParams { Temperature = 1f, TopK = 3, TopP = 0.9f, Seed = 3 }, 5);
        for (int i = 0; i < 200; i++)
        {
            int t = s.Sample([float.NaN, 1f, float.NaN, 1f, float.NaN], [], []);
            Assert.True(t is 1 or 3, $"token {t}");
        }
    }

    [Fact]
    public void Positive_infinities_share_the_mass_equally()
    {
        var s = new Sampler(new SamplingParams { Temperature = 0.7f, Seed = 11 }, 6);
        var counts = new int[6];
        for (int i = 0; i < 4000; i++) counts[s.Sample([5f, float.PositiveInfinity, float.NaN, float.PositiveInfinity, 1e38f, float.PositiveInfinity], [], [])]++;
        Assert.Equal(0, counts[0] + counts[2] + counts[4]);
        foreach (var i in new[] { 1, 3, 5 }) Assert.InRange(counts[i], 1200, 1467);
    }

    [Fact]
    public void Greedy_takes_the_lowest_positive_infinity_and_skips_NaN()
    {
        var s = new Sampler(SamplingParams.Greedy(4), 5);
        Assert.Equal(2, s.Sample([float.NaN, 3f, float.PositiveInfinity, float.NaN, float.PositiveInfinity], [], []));
        Assert.Equal(1, s.Sample([float.NaN, 3f, 2f, float.NaN, 1f], [], []));
    }

    [Fact]
    public void Huge_finite_logits_saturate_instead_of_overflowing()
    {
        // Dividing by 0.01 overflows float: the huge logit stays the finite maximum instead of becoming +∞ ...
        var s = new Sampler(new SamplingParams { Temperature = 0.01f, TopK = 2, Seed = 5 }, 3);
        for (int i = 0; i < 50; i++) Assert.Equal(1, s.Sample([-3e38f, 3e38f, 1f], [], []));
        // ... and huge negative ones stay candidates instead of all becoming -∞.
        var all = new Sampler(new SamplingParams { Temperature = 0.01f, Seed = 5 }, 2);
        Assert.InRange(all.Sample([-3e38f, -2e38f], [], []), 0, 1);
        var penalised = new Sampler(new SamplingParams { Temperature = 1f, RepetitionPenalty = 0.5f, Seed = 5 }, 3);
        for (int i = 0; i < 50; i++) Assert.Equal(0, penalised.Sample([3e38f, float.NaN, 1f], [0], []));
    }
}
