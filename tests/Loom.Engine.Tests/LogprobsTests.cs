using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

public class LogprobsTests
{
    private static float[] RandomLogits(int n, ulong seed, double scale = 10)
    {
        var rng = new SamplingRng(seed);
        var l = new float[n];
        for (var i = 0; i < n; i++) l[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return l;
    }

    // Double precision throughout, independent of the production code.
    private static double ReferenceLogprob(float[] logits, int token)
    {
        var max = logits.Max(x => (double)x);
        var sum = logits.Sum(x => Math.Exp(x - max));
        return logits[token] - max - Math.Log(sum);
    }

    [Fact]
    public void Hand_computed_values()
    {
        float[] l = [0f, MathF.Log(3f)];
        Assert.Equal(Math.Log(0.25), Logprobs.LogSoftmaxAt(l, 0), 6);
        Assert.Equal(Math.Log(0.75), Logprobs.LogSoftmaxAt(l, 1), 6);
        float[] uniform = [2f, 2f, 2f, 2f, 2f];
        Assert.Equal(-Math.Log(5), Logprobs.LogSoftmaxAt(uniform, 3), 6);
    }

    [Theory]
    [InlineData(10, 1UL, 1.0)]
    [InlineData(32_000, 2UL, 10.0)]
    [InlineData(151_936, 3UL, 30.0)]
    public void LogSoftmaxAt_matches_double_reference(int vocab, ulong seed, double scale)
    {
        var l = RandomLogits(vocab, seed, scale);
        l[vocab / 3] = (float)scale + 5f;
        foreach (var t in new[] { 0, vocab / 3, vocab / 2, vocab - 1 })
        {
            var expected = ReferenceLogprob(l, t);
            Assert.True(Math.Abs(Logprobs.LogSoftmaxAt(l, t) - expected) <= 1e-6 * Math.Max(1, Math.Abs(expected)) + 1e-6,
                $"token {t}: {Logprobs.LogSoftmaxAt(l, t)} vs {expected}");
        }
    }

    [Fact]
    public void LogSumExp_is_stable_for_extreme_logits()
    {
        float[] l = [1000f, 1000f, -1000f];
        Assert.Equal(1000 + Math.Log(2), Logprobs.LogSumExp(l), 9);
        Assert.Equal(Math.Log(0.5), Logprobs.LogSoftmaxAt(l, 0), 6);
        Assert.Equal(-2000 - Math.Log(2), Logprobs.LogSoftmaxAt(l, 2), 3);
        // Float exponentials summed in double: about 1e-7 relative error per term, far less after the log.
        Assert.Equal(Core.Kernels.Softmax.LogSumExp(RandomLogits(5000, 9)), Logprobs.LogSumExp(RandomLogits(5000, 9)), 6);
    }

    [Fact]
    public void TopN_is_sorted_best_first_and_matches_brute_force()
    {
        var l = RandomLogits(50_000, 4);
        var ids = new int[20];
        var lps = new float[20];
        Assert.Equal(20, Logprobs.TopN(l, ids, lps));
        var expected = Enumerable.Range(0, l.Length).OrderByDescending(i => l[i]).ThenBy(i => i).Take(20).ToArray();
        Assert.Equal(expected, ids);
        for (var j = 0; j < 20; j++)
            Assert.Equal(ReferenceLogprob(l, ids[j]), lps[j], 5);
        for (var j = 1; j < 20; j++) Assert.True(lps[j - 1] >= lps[j]);
    }

    [Fact]
    public void TopN_breaks_ties_by_lowest_id_and_handles_ascending_input()
    {
        float[] l = [1f, 3f, 2f, 3f, 3f, 0f];
        var ids = new int[4];
        var lps = new float[4];
        Assert.Equal(4, Logprobs.TopN(l, ids, lps));
        Assert.Equal([1, 3, 4, 2], ids);
        Assert.Equal(lps[0], lps[2]);

        var ascending = Enumerable.Range(0, 100).Select(i => (float)i).ToArray();
        var top = new int[5];
        Logprobs.TopN(ascending, top, new float[5]);
        Assert.Equal([99, 98, 97, 96, 95], top);
    }

    [Fact]
    public void TopN_writes_the_shortest_of_buffers_and_vocabulary()
    {
        float[] l = [0.5f, 2f, 1f];
        var ids = new int[8];
        var lps = new float[5];
        Assert.Equal(3, Logprobs.TopN(l, ids, lps));
        Assert.Equal([1, 2, 0], ids[..3]);
        Assert.Equal(2, Logprobs.TopN(l, ids.AsSpan(0, 2), lps));
        Assert.Equal(0, Logprobs.TopN(l, Span<int>.Empty, lps));
        Assert.Equal(1f, Math.Exp(lps[0]) + Math.Exp(lps[1]) + Math.Exp(Logprobs.LogSoftmaxAt(l, 0)), 5);
    }

    [Fact]
    public void Logprobs_use_raw_logits_not_processed_ones()
    {
        // A caller computes logprobs before Sample, which overwrites the logits; the documented order must hold.
        var l = RandomLogits(1000, 5);
        var raw = Logprobs.LogSoftmaxAt(l, 7);
        var work = (float[])l.Clone();
        new Sampler(new SamplingParams { Seed = 1, Temperature = 0.5f, TopK = 3 }, l.Length).Sample(work, [], []);
        Assert.NotEqual(raw, Logprobs.LogSoftmaxAt(work, 7));
        Assert.Equal(ReferenceLogprob(l, 7), raw, 5);
    }

    [Fact]
    public void Out_of_range_token_throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Logprobs.LogSoftmaxAt([1f, 2f], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Logprobs.LogSoftmaxAt([1f, 2f], -1));
    }
}
