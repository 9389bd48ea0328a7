using Loom.Engine.Sampling;
using Loom.Engine.Speculative;
using Loom.Models;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Engine.Tests;

/// <summary>
/// Speculative decoding changes nothing but speed: greedy requests (and seeded sampled ones with point-mass drafts,
/// n-gram or <see cref="DraftSampling.Greedy"/>, since verification spends one draw per emitted token) get the
/// tokens they get without it, alone and in a mixed batch where some speculate, some opt out and some are still
/// prefilling; stops inside an accepted run cut it there; and every block comes back. Seeded requests with sampled
/// drafts reproduce run to run (their distribution is <see cref="SpeculativeDistributionTests"/>' concern).
/// </summary>
public class SpeculativeDecodingTests(ITestOutputHelper output)
{
    internal static readonly SpeculativeOptions Ngram = new() { NumTokens = 4, MaxBatchTokens = 512 };

    /// <summary>A method by name: <c>ngram</c>, <c>layers:N</c>, or <c>draft</c> (the model drafting for itself as a separate draft model).</summary>
    internal static SpeculativeOptions Method(string method, LoadedModel model, DraftSampling drafts = DraftSampling.Sample) =>
        (method == "draft" ? new SpeculativeOptions { Method = SpeculativeMethod.DraftModel, DraftModel = model } : SpeculativeOptions.Parse(method))
        with { NumTokens = 4, MaxBatchTokens = 512, DraftSampling = drafts };

    private static readonly string[] Stories =
    [
        "Once upon a time, there was a little girl named Lily. She liked to play in the park. Once upon a time, there was a little girl named",
        "Tom had a big red ball. Tom had a big red ball. Tom had a big",
        "The cat sat on the mat. The dog sat on the mat. The bird sat on the",
        "Mom said, \"Be careful!\" Lily said, \"I will be careful!\" Mom said, \"Be",
    ];

    [Theory]
    [InlineData("stories260K.gguf", "ngram")]
    [InlineData("tinystories-656k", "ngram")]
    [InlineData("stories260K.gguf", "layers:3")]
    [InlineData("tinystories-656k", "layers:1")]
    [InlineData("stories260K.gguf", "draft")]
    public void Greedy_output_is_unchanged_on_the_shipped_models(string file, string method)
    {
        using var model = ModelLoader.Load(RepoModels.Path(file));
        var prompts = Stories.Select(s => model.Tokenizer.Encode(s, addSpecial: true)).ToArray();
        var p = TinyModels.Greedy(48);
        var (plain, _) = Run(model, prompts, p, null);
        var (spec, metrics) = Run(model, prompts, p, Method(method, model));
        AssertSame(plain, spec);
        // Drafting for itself, the draft model is accepted throughout: its own cache follows the sequence exactly.
        if (method == "draft") Assert.True(metrics.SpeculativeAcceptanceRate > 0.95, $"{metrics.SpeculativeAcceptedTokens}/{metrics.SpeculativeDraftTokens} accepted");
        output.WriteLine($"{file} {method}: {metrics.SpeculativeDraftTokens} drafted, {metrics.SpeculativeAcceptedTokens} accepted, mean accepted length {metrics.SpeculativeMeanAcceptedLength:F2}, {metrics.Steps} steps");
        Assert.True(metrics.SpeculativeDraftTokens > 0, "nothing was drafted");
        // The first layers of these small models, never trained to exit early, guess poorly; prompt lookup does well on repeated text.
        if (method == "ngram")
        {
            Assert.True(metrics.SpeculativeAcceptedTokens > 0, "no draft token was accepted: the test would not exercise acceptance");
            Assert.True(metrics.SpeculativeAcceptedTokens < metrics.SpeculativeDraftTokens, "every draft token was accepted: the test would not exercise rollback");
        }
    }

    [Fact]
    public void Self_drafting_with_every_layer_is_accepted_throughout()
    {
        // The draft is then the target itself, reading the target's own K/V for the positions already computed and
        // writing the draft positions: any slip in the positions, the block tables or the shared cache shows as rejections.
        using var model = ModelLoader.Load(RepoModels.Stories260K);
        var prompts = Stories.Select(s => model.Tokenizer.Encode(s, addSpecial: true)).ToArray();
        var p = TinyModels.Greedy(40);
        var (plain, _) = Run(model, prompts, p, null);
        var (spec, metrics) = Run(model, prompts, p, new SpeculativeOptions { Method = SpeculativeMethod.Layers, DraftLayers = model.Config.NumLayers, NumTokens = 4, MaxBatchTokens = 512 });
        AssertSame(plain, spec);
        output.WriteLine($"{metrics.SpeculativeAcceptedTokens}/{metrics.SpeculativeDraftTokens} accepted, {metrics.Steps} steps");
        Assert.True(metrics.SpeculativeAcceptanceRate > 0.95, $"{metrics.SpeculativeAcceptedTokens}/{metrics.SpeculativeDraftTokens} accepted");
    }

    [Theory]
    [InlineData("ngram", DraftSampling.Sample)]
    [InlineData("layers:1", DraftSampling.Greedy)]
    [InlineData("draft", DraftSampling.Greedy)]
    [InlineData("layers:1", DraftSampling.Sample)]
    [InlineData("draft", DraftSampling.Sample)]
    public void A_mixed_batch_of_16_gets_what_each_gets_alone(string method, DraftSampling drafts)
    {
        // Sampled drafts: the seeded sampled requests are compared with the same batch run again (without the
        // back-off, whose measured pass times would change the draft lengths and so the draws), the rest with alone.
        bool sampledDrafts = method != "ngram" && drafts == DraftSampling.Sample;
        using var model = ModelLoader.Load(RepoModels.TinyStories656K);
        var rng = new Random(5);
        var requests = Enumerable.Range(0, 16).Select(i =>
        {
            // Long prompts still prefill (in chunks) while the short ones decode and speculate.
            var text = string.Concat(Enumerable.Repeat(Stories[i % Stories.Length] + " ", 1 + (i % 3) * 3));
            var p = (i % 4) switch
            {
                0 => TinyModels.Greedy(40) with { Speculative = false },
                1 => new SamplingParams { Temperature = 0.8f, TopP = 0.9f, Seed = (ulong)i, MaxTokens = 40, IgnoreEos = true },
                2 => TinyModels.Greedy(40) with { Stop = ["park"], MinTokens = 3 },
                _ => TinyModels.Greedy(10 + rng.Next(30)) with { RepetitionPenalty = 1.1f, FrequencyPenalty = 0.2f },
            };
            return (Prompt: model.Tokenizer.Encode(text, addSpecial: true), Params: p);
        }).ToArray();

        var alone = requests.Select(r => TinyModels.RunAlone(model, r.Prompt, r.Params).Choices[0]).ToArray();
        var options = new EngineOptions
        {
            MaxNumBatchedTokens = 64, MaxNumSeqs = 16, KvCacheBytes = 64 << 20, MaxKvTokens = 8192,
            Speculative = Method(method, model, drafts) with { BackOff = !sampledDrafts },
        };
        GenerationChoice[] Batch(out EngineMetrics metrics)
        {
            using var engine = new LlmEngine(model, options);
            var submitted = requests.Select(r => engine.AddRequest(r.Prompt, r.Params)).ToArray();
            while (engine.HasWork) engine.Step();
            metrics = engine.Metrics;
            Assert.Equal(0, engine.Blocks.UsedBlocks);
            Assert.Equal(0, engine.DraftBlocksInUse);
            engine.Blocks.CheckConsistency();
            return [.. submitted.Select(r => GenerationResult.CollectAsync(r).GetAwaiter().GetResult().Choices[0])];
        }
        var batched = Batch(out var m);
        var again = sampledDrafts ? Batch(out _) : null;
        for (int i = 0; i < batched.Length; i++)
        {
            var got = batched[i];
            var want = sampledDrafts && !requests[i].Params.IsGreedy ? again![i] : alone[i];
            Assert.True(want.TokenIds.SequenceEqual(got.TokenIds), $"request {i}: batched [{string.Join(",", got.TokenIds)}] vs {(want == alone[i] ? "alone" : "again")} [{string.Join(",", want.TokenIds)}]");
            Assert.Equal(want.Text, got.Text);
            Assert.Equal(want.FinishReason, got.FinishReason);
            Assert.Equal(alone[i].TokenIds.Length, got.TokenIds.Length);
        }
        output.WriteLine($"{m.SpeculativeDraftTokens} drafted, {m.SpeculativeAcceptedTokens} accepted, {m.Steps} steps");
        Assert.True(method != "ngram" || m.SpeculativeAcceptedTokens > 0);
        Assert.True(m.SpeculativeDraftTokens > 0);
    }

    [Theory]
    [InlineData("ngram")]
    [InlineData("layers:1")]
    [InlineData("other-draft")]
    public void Generated_model_with_prefix_cache_and_int8_cache(string method)
    {
        using var model = TinyModels.Load();
        // Another random model of the same shape and vocabulary: a draft model that is mostly wrong.
        using var other = TinyModels.LoadOther();
        var rng = new Random(3);
        // A repeated pattern, so the proposer has something to find in a random model's prompts.
        var prompts = Enumerable.Range(0, 12).Select(i =>
        {
            var unit = TinyModels.RandomTokens(rng, 3 + i % 5, model.Config.VocabSize);
            return Enumerable.Repeat(unit, 2 + i % 6).SelectMany(u => u).ToArray();
        }).ToArray();
        foreach (var dtype in new[] { Models.Architectures.KvCacheType.F16, Models.Architectures.KvCacheType.Int8 })
        {
            var baseOptions = new EngineOptions { BlockSize = 4, MaxNumBatchedTokens = 40, MaxNumSeqs = 12, KvCacheDtype = dtype };
            var p = TinyModels.Greedy(24);
            var (plain, _) = Run(model, prompts, p, null, baseOptions);
            var (spec, metrics) = Run(model, prompts, p, method == "other-draft" ? Method("draft", other) : Method(method, model), baseOptions);
            AssertSame(plain, spec);
            output.WriteLine($"{dtype}: {metrics.SpeculativeDraftTokens} drafted, {metrics.SpeculativeAcceptedTokens} accepted");
            Assert.True(metrics.SpeculativeDraftTokens > 0);
        }
    }

    /// <summary>
    /// The architectures with attention of their own keep greedy output under speculation: deepseek2's latent
    /// attention (its own kernel over a keys-only cache), Gemma's and phi3's sliding windows (prompts past the window),
    /// with verification chunks inside a batch and rollback over blocks shared with the prefix cache.
    /// </summary>
    [Theory]
    [InlineData("deepseek2-tiny", "ngram")]
    [InlineData("deepseek2-tiny", "layers:1")]
    [InlineData("gemma2-tiny", "ngram")]
    [InlineData("gemma3-tiny", "layers:2")]
    [InlineData("phi3-window", "ngram")]
    public void Latent_and_sliding_attention_keep_greedy_output(string shape, string method)
    {
        var spec = shape switch
        {
            "phi3-window" => Models.Synthetic.SyntheticModelSpec.Phi3Tiny with { SlidingWindow = 16 },
            _ when shape.StartsWith("gemma", StringComparison.Ordinal) => GemmaParityTests.Spec(shape),
            _ => MoeParityTests.Spec(shape),
        };
        using var model = ReferenceParity.LoadSynthetic(spec, Models.Quantize.LlamaFileType.F32, seed: 11);
        var rng = new Random(5);
        // Repeated units, so the proposer finds matches; long enough to pass a 16-position window.
        var prompts = Enumerable.Range(0, 8).Select(i =>
        {
            var unit = TinyModels.RandomTokens(rng, 3 + i % 4, model.Config.VocabSize);
            return Enumerable.Repeat(unit, 4 + i % 5).SelectMany(u => u).ToArray();
        }).ToArray();
        var options = new EngineOptions { BlockSize = 4, MaxNumBatchedTokens = 48, MaxNumSeqs = 8 };
        var p = TinyModels.Greedy(32);
        var (plain, _) = Run(model, prompts, p, null, options);
        var (specOut, metrics) = Run(model, prompts, p, Method(method, model), options);
        AssertSame(plain, specOut);
        output.WriteLine($"{shape} {method}: {metrics.SpeculativeDraftTokens} drafted, {metrics.SpeculativeAcceptedTokens} accepted");
        Assert.True(metrics.SpeculativeDraftTokens > 0, "nothing was drafted");
    }

    [Fact]
    public void Back_off_turns_speculation_off_past_the_token_cap()
    {
        using var model = ModelLoader.Load(RepoModels.Stories260K);
        var prompts = Enumerable.Range(0, 8).Select(_ => model.Tokenizer.Encode(Stories[1], addSpecial: true)).ToArray();
        // All eight prefill in one step and then decode together: eight decodes already fill a cap of 8 tokens.
        var options = new EngineOptions { MaxNumBatchedTokens = 256, MaxNumSeqs = 8 };
        var (_, capped) = Run(model, prompts, TinyModels.Greedy(16), Ngram with { MaxBatchTokens = 8 }, options);
        Assert.Equal(0, capped.SpeculativeDraftTokens);
        var (_, open) = Run(model, prompts, TinyModels.Greedy(16), Ngram with { MaxBatchTokens = 64 }, options);
        Assert.True(open.SpeculativeDraftTokens > 0);
    }

    private static (GenerationChoice[] Choices, EngineMetrics Metrics) Run(LoadedModel model, int[][] prompts, SamplingParams p, SpeculativeOptions? spec, EngineOptions? options = null)
    {
        var o = (options ?? new EngineOptions { MaxNumBatchedTokens = 64, MaxNumSeqs = 16 }) with { KvCacheBytes = 64 << 20, MaxKvTokens = 8192, Speculative = spec };
        using var engine = new LlmEngine(model, o);
        var results = engine.Generate(prompts, p).Select(r => r.Choices[0]).ToArray();
        Assert.Equal(0, engine.Blocks.UsedBlocks);
        Assert.Equal(0, engine.DraftBlocksInUse);
        engine.Blocks.CheckConsistency();
        return (results, engine.Metrics);
    }

    private static void AssertSame(GenerationChoice[] plain, GenerationChoice[] spec)
    {
        for (int i = 0; i < plain.Length; i++)
        {
            Assert.True(plain[i].TokenIds.SequenceEqual(spec[i].TokenIds), $"prompt {i}: speculative [{string.Join(",", spec[i].TokenIds)}] vs plain [{string.Join(",", plain[i].TokenIds)}]");
            Assert.Equal(plain[i].Text, spec[i].Text);
            Assert.Equal(plain[i].FinishReason, spec[i].FinishReason);
        }
    }
}
