using Loom.Engine.Sampling;
using Loom.Models;
using Loom.Models.Architectures;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Engine.Tests;

/// <summary>
/// Speculative sampling keeps the target's distribution: thousands of seeded requests at temperature 1 with
/// top-p 0.9, whose second and third tokens are verified against n-gram drafts, follow the distribution computed
/// from the model's own logits, the next token alone and the two tokens jointly (chi-square, p = 0.001).
/// </summary>
public class SpeculativeDistributionTests(ITestOutputHelper output)
{
    private const int Requests = 3000, MinExpected = 5;

    [Fact]
    public void Verified_tokens_follow_the_target_distribution()
    {
        using var model = ModelLoader.Load(RepoModels.Stories260K);
        var prompt = model.Tokenizer.Encode("Tom had a big red ball. Tom had a big red ball. Tom had a big red ball. Tom had", addSpecial: true);
        var p = new SamplingParams { Temperature = 1f, TopP = 0.9f, MaxTokens = 4, IgnoreEos = true };

        var options = new EngineOptions { MaxNumSeqs = 256, MaxNumBatchedTokens = 2048, MaxWaiting = Requests, KvCacheBytes = 64 << 20, MaxKvTokens = 8192, Speculative = SpeculativeDecodingTests.Ngram with { MaxBatchTokens = 2048 } };
        using var engine = new LlmEngine(model, options);
        var requests = Enumerable.Range(0, Requests).Select(i => engine.AddRequest(prompt, p with { Seed = (ulong)i + 1 })).ToArray();
        while (engine.HasWork) engine.Step();
        var outputs = requests.Select(r => GenerationResult.CollectAsync(r).GetAwaiter().GetResult().Choices[0].TokenIds).ToArray();
        var m = engine.Metrics;
        output.WriteLine($"{m.SpeculativeDraftTokens} drafted, {m.SpeculativeAcceptedTokens} accepted over {m.SpeculativeDrafts} drafts");
        // Both branches of the rule must be exercised often: acceptance and rejection with a resample.
        Assert.True(m.SpeculativeDrafts > Requests / 2, "too few requests speculated");
        Assert.InRange(m.SpeculativeAcceptanceRate, 0.05, 0.95);

        // Condition on the first token (sampled from the prompt's logits, before any speculation) being the likeliest.
        int first = Sampler.ArgMax(SamplerReference.Distribution(p, Logits(model, prompt)).Select(x => (float)x).ToArray());
        var kept = outputs.Where(o => o[0] == first).ToArray();
        output.WriteLine($"{kept.Length} of {Requests} start with token {first}");
        Assert.True(kept.Length > Requests / 4);

        var head = (int[])[.. prompt, first];
        var next = SamplerReference.Distribution(p, Logits(model, head), prompt, [first]);
        Check("next token", kept.Select(o => (long)o[1]), t => next[t], next.Select((q, t) => (long)t).Where(t => next[t] > 0));

        var joint = new Dictionary<long, double>();
        for (int a = 0; a < next.Length; a++)
        {
            if (next[a] == 0) continue;
            var third = SamplerReference.Distribution(p, Logits(model, [.. head, a]), prompt, [first, a]);
            for (int b = 0; b < third.Length; b++)
                if (third[b] > 0) joint[(long)a * next.Length + b] = next[a] * third[b];
        }
        Check("two tokens", kept.Select(o => (long)o[1] * next.Length + o[2]), k => joint.GetValueOrDefault(k), joint.Keys);
    }

    /// <summary>Chi-square of observed keys against expected probabilities, pooling the categories too rare to test alone.</summary>
    private void Check(string what, IEnumerable<long> observed, Func<long, double> probability, IEnumerable<long> support)
    {
        var keys = observed.ToArray();
        int n = keys.Length;
        var frequent = support.Where(k => probability(k) * n >= MinExpected).ToArray();
        var index = frequent.Select((k, i) => (k, i)).ToDictionary(x => x.k, x => x.i);
        var counts = new int[frequent.Length + 1];
        var expected = new double[frequent.Length + 1];
        for (int i = 0; i < frequent.Length; i++) expected[i] = probability(frequent[i]);
        expected[^1] = Math.Max(0, 1 - expected.Sum());
        foreach (var k in keys)
        {
            Assert.True(probability(k) > 0, $"{what}: drew {k}, which has probability 0");
            counts[index.TryGetValue(k, out int i) ? i : frequent.Length]++;
        }
        if (expected[^1] * n < MinExpected)
        {
            // Too little pooled mass to test on its own: fold it into the likeliest category.
            int top = Array.IndexOf(expected, expected[..^1].Max());
            expected[top] += expected[^1]; counts[top] += counts[^1];
            expected[^1] = 0; counts[^1] = 0;
        }
        var (chi, df) = SamplingStatistics.ChiSquare(counts, expected);
        output.WriteLine($"{what}: chi-square {chi:F1} with {df} df (critical {SamplingStatistics.Critical001(df):F1})");
        Assert.True(df >= 2, $"{what}: too few categories to test");
        Assert.True(chi < SamplingStatistics.Critical001(df), $"{what}: chi-square {chi:F2} with {df} df exceeds the p=0.001 critical value");
    }

    /// <summary>The model's raw logits after <paramref name="tokens"/>, from a forward pass of its own.</summary>
    private static float[] Logits(LoadedModel model, int[] tokens)
    {
        var c = model.Config;
        int blocks = (tokens.Length + 15) / 16;
        using var cache = new KvCache(c.NumLayers, c.NumKvHeads, c.HeadDim, blocks, 16);
        var batch = new ForwardBatch();
        batch.Add(tokens, 0, Enumerable.Range(0, blocks).ToArray(), LogitRequest.Last);
        var logits = new float[c.VocabSize];
        model.Transformer.Forward(batch, cache, logits);
        return logits;
    }
}
