using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

public class PrefixCachingTests
{
    [Fact]
    public void ASecondRequestWithTheSameLongPrefixComputesOnlyItsNewTokens()
    {
        using var model = TinyModels.Load();
        var rng = new Random(5);
        var prefix = TinyModels.RandomTokens(rng, 160, model.Config.VocabSize);
        int[] first = [.. prefix, .. TinyModels.RandomTokens(rng, 7, model.Config.VocabSize)];
        int[] second = [.. prefix, .. TinyModels.RandomTokens(rng, 11, model.Config.VocabSize)];
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20 });

        var a = engine.Generate([first], TinyModels.Greedy(5))[0];
        Assert.Equal(first.Length, engine.Metrics.PromptTokens);
        Assert.Equal(0, a.CachedPromptTokens);

        long computedBefore = engine.TokensComputed, promptBefore = engine.Metrics.PromptTokens;
        var b = engine.Generate([second], TinyModels.Greedy(5))[0];
        // 160 shared tokens are 10 whole blocks of 16: only the 11 new tokens are prefilled.
        Assert.Equal(160, b.CachedPromptTokens);
        Assert.Equal(11, engine.Metrics.PromptTokens - promptBefore);
        Assert.Equal(11 + 4, engine.TokensComputed - computedBefore); // and 4 decodes
        Assert.Equal(TinyModels.RunAlone(model, second, TinyModels.Greedy(5)).Choices[0].TokenIds, b.Choices[0].TokenIds);
        Assert.Equal(10, engine.Blocks.PrefixHits);
        Assert.True(engine.Blocks.CachedBlocks > 0);
        Assert.Equal(engine.Blocks.NumBlocks, engine.Blocks.CachedBlocks + engine.Blocks.FreeBlocks);
    }

    [Fact]
    public void WithoutPrefixCachingEveryPromptIsComputed()
    {
        using var model = TinyModels.Load();
        var prompt = TinyModels.RandomTokens(new Random(6), 100, model.Config.VocabSize);
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20, PrefixCaching = false });
        engine.Generate([prompt], TinyModels.Greedy(2));
        var r = engine.Generate([prompt], TinyModels.Greedy(2))[0];
        Assert.Equal(0, r.CachedPromptTokens);
        Assert.Equal(200, engine.Metrics.PromptTokens);
        Assert.Equal(0, engine.Blocks.CachedBlocks);
    }

    [Fact]
    public void ConcurrentRequestsWithACommonPrefixShareItsBlocks()
    {
        using var model = TinyModels.Load();
        var rng = new Random(8);
        var prefix = TinyModels.RandomTokens(rng, 64, model.Config.VocabSize);
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20 });
        // The first computes the prefix; the others, admitted once its blocks are full, reuse them.
        engine.Generate([[.. prefix, 9]], TinyModels.Greedy(1));
        var prompts = Enumerable.Range(0, 8).Select(i => (int[])[.. prefix, .. TinyModels.RandomTokens(rng, 3 + i, model.Config.VocabSize)]).ToArray();
        long before = engine.Metrics.PromptTokens;
        var results = engine.Generate(prompts, TinyModels.Greedy(3));
        Assert.Equal(prompts.Sum(p => p.Length - 64), engine.Metrics.PromptTokens - before);
        Assert.All(results, r => Assert.Equal(64, r.CachedPromptTokens));
    }
}
