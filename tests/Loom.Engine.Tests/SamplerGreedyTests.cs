using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

public class SamplerGreedyTests
{
    [Fact]
    public void Greedy_picks_the_argmax()
    {
        var s = new Sampler(SamplingParams.Greedy(8), 6);
        Assert.Equal(4, s.Sample([0.1f, -3f, 2f, 1.9f, 2.5f, -1f], [], []));
        Assert.Equal(0, s.Sample([9f, -3f, 2f, 1.9f, 2.5f, -1f], [], []));
        Assert.Equal(5, s.Sample([-9f, -8f, -7f, -6f, -5f, -4f], [], []));
    }

    [Fact]
    public void Greedy_ties_go_to_the_lowest_id()
    {
        var s = new Sampler(SamplingParams.Greedy(8), 6);
        Assert.Equal(1, s.Sample([0f, 3f, 1f, 3f, 3f, 2f], [], []));
        Assert.Equal(0, s.Sample([5f, 5f, 5f, 5f, 5f, 5f], [], []));
        Assert.Equal(2, s.Sample([0f, 0f, float.PositiveInfinity, float.PositiveInfinity, 0f, 0f], [], []));
    }

    [Fact]
    public void Greedy_on_a_large_vocab_finds_the_single_maximum_anywhere()
    {
        var rng = new SamplingRng(3);
        var logits = new float[50_000];
        for (var i = 0; i < logits.Length; i++) logits[i] = (float)rng.NextDouble() * 10f;
        foreach (var at in new[] { 0, 1, 17, 31_999, 49_999 })
        {
            var copy = (float[])logits.Clone();
            copy[at] = 11f;
            Assert.Equal(at, new Sampler(SamplingParams.Greedy(1), copy.Length).Sample(copy, [], []));
        }
    }

    [Fact]
    public void Greedy_applies_penalties_before_the_argmax()
    {
        var p = SamplingParams.Greedy(8) with { RepetitionPenalty = 2f };
        var s = new Sampler(p, 4);
        // 4/2 = 2 < 3, so the repeated token loses its lead.
        Assert.Equal(2, s.Sample([1f, 4f, 3f, 0f], [1], []));
        Assert.Equal(1, s.Sample([1f, 4f, 3f, 0f], [0], []));
    }

    [Fact]
    public void Greedy_does_not_consume_randomness_or_apply_temperature()
    {
        var s = new Sampler(SamplingParams.Greedy(8) with { TopK = 1, MinP = 0.5f, Seed = 1 }, 4);
        float[] logits = [1f, 4f, 3f, 0f];
        s.Apply(logits, [], []);
        Assert.Equal([1f, 4f, 3f, 0f], logits);
    }

    [Fact]
    public void Min_tokens_masks_eos_and_stop_ids_until_reached()
    {
        var p = SamplingParams.Greedy(8) with { MinTokens = 2, StopTokenIds = [3] };
        var s = new Sampler(p, 5);
        IReadOnlySet<int> eos = new HashSet<int> { 4 };
        int Next(float[] logits, int[] output)
        {
            OutputProcessor.MaskUntilMinTokens(p, eos, output.Length, logits);
            return s.Sample(logits, [], output);
        }
        Assert.Equal(2, Next([0f, 1f, 2f, 9f, 10f], []));
        Assert.Equal(2, Next([0f, 1f, 2f, 9f, 10f], [2]));
        Assert.Equal(4, Next([0f, 1f, 2f, 9f, 10f], [2, 2]));
        Assert.Equal(3, Next([0f, 1f, 2f, 9f, 1f], [2, 2]));
    }

    [Fact]
    public void Ignore_eos_keeps_eos_drawable_during_min_tokens_and_from_ending()
    {
        var p = SamplingParams.Greedy(8) with { MinTokens = 2, IgnoreEos = true };
        IReadOnlySet<int> eos = new HashSet<int> { 4 };
        var logits = new float[] { 0f, 1f, 2f, 9f, 10f };
        OutputProcessor.MaskUntilMinTokens(p, eos, 0, logits);
        Assert.Equal(10f, logits[4]);
        Assert.False(OutputProcessor.IsStopToken(p, eos, 4));
    }

    [Fact]
    public void Stop_tokens_cover_eos_unless_ignored()
    {
        IReadOnlySet<int> eos = new HashSet<int> { 2 };
        var p = new SamplingParams { StopTokenIds = [7] };
        Assert.True(OutputProcessor.IsStopToken(p, eos, 7));
        Assert.True(OutputProcessor.IsStopToken(p, eos, 2));
        Assert.False(OutputProcessor.IsStopToken(p, eos, 3));
        var ignoring = p with { IgnoreEos = true };
        Assert.True(OutputProcessor.IsStopToken(ignoring, eos, 7));
        Assert.False(OutputProcessor.IsStopToken(ignoring, eos, 2));
    }

    [Fact]
    public void Bad_inputs_throw_argument_exceptions()
    {
        var s = new Sampler(SamplingParams.Greedy(8) with { PresencePenalty = 1f }, 4);
        Assert.Throws<ArgumentException>(() => s.Sample(new float[5], [], []));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Sample(new float[4], [], [4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Sample(new float[4], [-1], []));
    }

    [Fact]
    public void All_negative_infinity_cannot_be_sampled()
    {
        var s = new Sampler(new SamplingParams { Seed = 1 }, 3);
        Assert.Throws<NoSamplableTokenException>(() => s.Sample([float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity], [], []));
    }
}
