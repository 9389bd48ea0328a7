using Loom.Engine.Sampling;
using Loom.Models;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Engine.Tests;

/// <summary>
/// Batching must not change results: 32 concurrent requests of mixed prompt lengths each get the greedy tokens
/// they get alone, whatever the scheduler does with chunked prefill and the prefix cache.
/// </summary>
public class BatchInvarianceTests(ITestOutputHelper output)
{
    public static TheoryData<bool, bool> Modes => new() { { true, true }, { true, false }, { false, true }, { false, false } };

    [Theory]
    [MemberData(nameof(Modes))]
    public void GeneratedModel(bool chunkedPrefill, bool prefixCaching)
    {
        using var model = TinyModels.Load();
        var rng = new Random(1234);
        int vocab = model.Config.VocabSize;
        // Mixed lengths, and a shared 40-token head on a third of them so the prefix cache has something to find.
        var head = TinyModels.RandomTokens(rng, 40, vocab);
        var prompts = Enumerable.Range(0, 32).Select(i =>
        {
            var own = TinyModels.RandomTokens(rng, 1 + rng.Next(80), vocab);
            return i % 3 == 0 ? [.. head, .. own] : own;
        }).ToArray();
        Check(model, prompts, TinyModels.Greedy(16), chunkedPrefill, prefixCaching);
    }

    /// <summary>16 mixed requests on each MoE layout (deepseek2's with latent attention), with chunked prefill and the prefix cache on.</summary>
    [Theory]
    [InlineData("mixtral-tiny")]
    [InlineData("qwen2moe-tiny")]
    [InlineData("qwen3moe-tiny")]
    [InlineData("olmoe-tiny")]
    [InlineData("deepseek2-tiny")]
    [InlineData("deepseek2-v3-tiny")]
    public void MixtureOfExperts(string shape)
    {
        using var model = MoeParityTests.Load(shape, Models.Quantize.LlamaFileType.F16);
        var rng = new Random(4321);
        int vocab = model.Config.VocabSize;
        var head = TinyModels.RandomTokens(rng, 40, vocab);
        var prompts = Enumerable.Range(0, 16).Select(i =>
        {
            var own = TinyModels.RandomTokens(rng, 1 + rng.Next(80), vocab);
            return i % 3 == 0 ? [.. head, .. own] : own;
        }).ToArray();
        Check(model, prompts, TinyModels.Greedy(16), chunkedPrefill: true, prefixCaching: true);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ShippedModel(bool chunkedPrefill, bool prefixCaching) => RealModel(RepoModels.Stories260K, chunkedPrefill, prefixCaching);

    [SharedTheory]
    [MemberData(nameof(Modes))]
    public void SharedF16Model(bool chunkedPrefill, bool prefixCaching) =>
        RealModel(SharedData.Path("models/tinystories-656k/TinyStories-656K.f16.gguf"), chunkedPrefill, prefixCaching);

    private void RealModel(string path, bool chunkedPrefill, bool prefixCaching)
    {
        string[] sentences =
        [
            "Once upon a time, there was a little girl named Lily.", "She liked to play in the park with her dog.",
            "One day, the sun was hot and the sky was blue.", "Tom had a big red ball.", "The cat sat on the mat.",
            "They went to the store to buy some milk and bread.", "Mom said, \"Be careful!\"", "The bird flew up high.",
        ];
        using var model = ModelLoader.Load(path);
        var rng = new Random(99);
        var prompts = Enumerable.Range(0, 32).Select(i =>
        {
            // 1 to 4 sentences; prompts starting alike share cached blocks.
            var text = string.Join(" ", Enumerable.Range(0, 1 + i % 4).Select(j => sentences[(i / 4 + j * (1 + rng.Next(3))) % sentences.Length]));
            return model.Tokenizer.Encode(text);
        }).ToArray();
        Check(model, prompts, TinyModels.Greedy(12), chunkedPrefill, prefixCaching);
    }

    // Each prompt alone, computed once for all modes (a request alone is scheduled the same way in every mode).
    private static readonly Dictionary<string, int[]> AloneCache = [];

    private static int[] Alone(LoadedModel model, int[] prompt, SamplingParams p)
    {
        string key = $"{model.Path}|{p.MaxTokens}|{string.Join(",", prompt)}";
        lock (AloneCache)
        {
            if (!AloneCache.TryGetValue(key, out var tokens))
                AloneCache[key] = tokens = TinyModels.RunAlone(model, prompt, p).Choices[0].TokenIds;
            return tokens;
        }
    }

    private void Check(LoadedModel model, int[][] prompts, SamplingParams p, bool chunkedPrefill, bool prefixCaching)
    {
        var options = new EngineOptions { ChunkedPrefill = chunkedPrefill, PrefixCaching = prefixCaching, MaxNumBatchedTokens = 96, MaxNumSeqs = 32 };
        var alone = prompts.Select(pr => Alone(model, pr, p)).ToArray();

        // Room for everyone at once, so nothing is preempted and recomputed.
        using var engine = new LlmEngine(model, options with { KvCacheBytes = 64 << 20, MaxKvTokens = 8192 });
        var results = engine.Generate(prompts, p);
        for (int i = 0; i < prompts.Length; i++)
            Assert.True(alone[i].SequenceEqual(results[i].Choices[0].TokenIds),
                $"request {i} ({prompts[i].Length} prompt tokens): batched [{string.Join(",", results[i].Choices[0].TokenIds)}] vs alone [{string.Join(",", alone[i])}]");
        Assert.Equal(0, engine.Scheduler.Preemptions);
        Assert.True(engine.Metrics.Steps < prompts.Length * p.MaxTokens / 2, $"{engine.Metrics.Steps} steps: requests were not batched");
        Assert.Equal(0, engine.Blocks.UsedBlocks);
        engine.Blocks.CheckConsistency();
        output.WriteLine($"{model.Name}: {engine.Metrics.Steps} steps, prefix hit rate {engine.Blocks.PrefixHitRate:P0}, {engine.Metrics.PromptTokens} prompt tokens computed of {prompts.Sum(x => x.Length)}");
    }
}
