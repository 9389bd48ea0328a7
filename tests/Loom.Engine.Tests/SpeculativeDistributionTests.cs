using Loom.Engine.Sampling;
using Loom.Engine.Speculative;
using Loom.Models;
using Loom.Models.Architectures;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Engine.Tests;

/// <summary>
/// Speculative sampling keeps the target's distribution: thousands of seeded requests at temperature 1 with
/// top-p 0.9, whose second and third tokens are verified against drafts (n-gram lookup; the first layers and a
/// separate draft model, each drafting greedily or sampling its drafts), follow the distribution computed from the
/// model's own logits, the next token alone and the two tokens jointly (chi-square, p = 0.001). Sampled drafts are
/// accepted more often than greedy ones.
/// </summary>
public class SpeculativeDistributionTests(ITestOutputHelper output)
{
    private const int Requests = 3000, MinExpected = 5;

    /// <summary>
    /// stories260K with every weight matrix disturbed (each weight scaled by 1 + 0.3·noise): a draft model close to
    /// the target but not equal to it, so drafts are both accepted and rejected. Norms and metadata are kept.
    /// </summary>
    private static readonly Lazy<string> NoisyDraft = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("loom-noisy-draft-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } };
        var path = Path.Combine(dir, "stories260K-noisy.gguf");
        using var source = Models.Formats.Gguf.GgufFile.Open(RepoModels.Stories260K);
        var writer = new Models.Formats.Gguf.GgufWriter();
        foreach (var (key, value) in source.Metadata) writer.Add(key, value);
        var rng = new Random(17);
        foreach (var info in source.Tensors)
        {
            var bytes = source.GetTensor(info.Name).Bytes.ToArray();
            if (info.Type == Core.Tensors.GgmlType.F32 && info.Shape.Length == 2)
                foreach (ref float w in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan()))
                    w *= 1 + 0.3f * (float)(rng.NextDouble() * 2 - 1);
            writer.AddTensor(info.Name, info.Type, info.Shape, bytes);
        }
        writer.Write(path);
        return path;
    });

    /// <summary>The engine's speculation for a method name: <c>ngram</c>, <c>layers:N</c>, or <c>noisy-draft</c> (<see cref="NoisyDraft"/>, loaded into <paramref name="draft"/>).</summary>
    private static SpeculativeOptions Speculation(string method, DraftSampling drafts, out LoadedModel? draft)
    {
        draft = method == "noisy-draft" ? ModelLoader.Load(NoisyDraft.Value) : null;
        var s = draft is not null ? new SpeculativeOptions { Method = SpeculativeMethod.DraftModel, DraftModel = draft } : SpeculativeOptions.Parse(method);
        return s with { NumTokens = 4, DraftSampling = drafts };
    }

    [Theory]
    [InlineData("ngram", DraftSampling.Sample)]
    [InlineData("layers:3", DraftSampling.Sample)]
    [InlineData("layers:3", DraftSampling.Greedy)]
    [InlineData("noisy-draft", DraftSampling.Sample)]
    [InlineData("noisy-draft", DraftSampling.Greedy)]
    public void Verified_tokens_follow_the_target_distribution(string method, DraftSampling drafts)
    {
        using var model = ModelLoader.Load(RepoModels.Stories260K);
        var prompt = model.Tokenizer.Encode("Tom had a big red ball. Tom had a big red ball. Tom had a big red ball. Tom had", addSpecial: true);
        var p = new SamplingParams { Temperature = 1f, TopP = 0.9f, MaxTokens = 4, IgnoreEos = true };

        var spec = Speculation(method, drafts, out var draftModel);
        using var _ = draftModel;
        var options = new EngineOptions { MaxNumSeqs = 256, MaxNumBatchedTokens = 2048, MaxWaiting = Requests, KvCacheBytes = 64 << 20, MaxKvTokens = 8192, Speculative = spec with { MaxBatchTokens = 2048 } };
        using var engine = new LlmEngine(model, options);
        var requests = Enumerable.Range(0, Requests).Select(i => engine.AddRequest(prompt, p with { Seed = (ulong)i + 1 })).ToArray();
        while (engine.HasWork) engine.Step();
        var outputs = requests.Select(r => GenerationResult.CollectAsync(r).GetAwaiter().GetResult().Choices[0].TokenIds).ToArray();
        var m = engine.Metrics;
        output.WriteLine($"{method} {drafts}: {m.SpeculativeDraftTokens} drafted, {m.SpeculativeAcceptedTokens} accepted ({m.SpeculativeAcceptanceRate:P1}) over {m.SpeculativeDrafts} drafts");
        // Both branches of the rule must be exercised often: acceptance and rejection with a resample.
        Assert.True(m.SpeculativeDrafts > Requests / 2, "too few requests speculated");
        Assert.True(m.SpeculativeAcceptedTokens >= 50 && m.SpeculativeDraftTokens - m.SpeculativeAcceptedTokens >= 50, "too few acceptances or rejections");

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

    /// <summary>
    /// At temperature 1, a draft sampled from q is accepted with probability Σ min(p, q), above the p(argmax q) a
    /// greedy draft gets: the same requests with both, from the first layers and from the draft model.
    /// </summary>
    [Theory]
    [InlineData("layers:3")]
    [InlineData("noisy-draft")]
    public void Sampled_drafts_are_accepted_more_often_than_greedy_ones(string method)
    {
        using var model = ModelLoader.Load(RepoModels.Stories260K);
        var prompt = model.Tokenizer.Encode("Once upon a time, there was a little girl named Lily. She", addSpecial: true);
        var p = new SamplingParams { Temperature = 1f, MaxTokens = 32, IgnoreEos = true };
        var rates = new double[2];
        foreach (var drafts in new[] { DraftSampling.Greedy, DraftSampling.Sample })
        {
            var spec = Speculation(method, drafts, out var draftModel);
            using var _ = draftModel;
            // Without the back-off, so both runs verify every draft they propose whatever the machine's load.
            var options = new EngineOptions { MaxNumSeqs = 64, MaxNumBatchedTokens = 512, KvCacheBytes = 64 << 20, MaxKvTokens = 8192, Speculative = spec with { MaxBatchTokens = 512, BackOff = false } };
            using var engine = new LlmEngine(model, options);
            for (int i = 0; i < 200; i++) engine.AddRequest(prompt, p with { Seed = (ulong)i + 1 });
            while (engine.HasWork) engine.Step();
            var m = engine.Metrics;
            rates[(int)drafts] = m.SpeculativeAcceptanceRate;
            output.WriteLine($"{method} {drafts}: {m.SpeculativeAcceptedTokens}/{m.SpeculativeDraftTokens} accepted ({m.SpeculativeAcceptanceRate:P1}), mean accepted length {m.SpeculativeMeanAcceptedLength:F2}, {m.GenerationTokens} tokens in {m.Steps} steps");
        }
        Assert.True(rates[(int)DraftSampling.Sample] > rates[(int)DraftSampling.Greedy] + 0.02, $"sampled drafts accepted {rates[(int)DraftSampling.Sample]:P1}, greedy ones {rates[(int)DraftSampling.Greedy]:P1}");
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
