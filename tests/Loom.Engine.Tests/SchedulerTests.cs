using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

public class SchedulerTests
{
    [Fact]
    public void EveryRunningDecodeGoesIntoOneStepBeforeAnyPrefill()
    {
        using var model = TinyModels.Load();
        var rng = new Random(1);
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20, MaxNumBatchedTokens = 16, MaxNumSeqs = 8 });
        for (int i = 0; i < 6; i++) engine.AddRequest(TinyModels.RandomTokens(rng, 2, model.Config.VocabSize), TinyModels.Greedy(10));
        engine.Step(); // six 2-token prompts fit the 16-token budget: all prefilled at once
        Assert.Equal(6, engine.Scheduler.RunningCount);

        // A long prompt arrives: the six decodes still run every step, the prompt gets the rest of the budget.
        engine.AddRequest(TinyModels.RandomTokens(rng, 50, model.Config.VocabSize), TinyModels.Greedy(2));
        var s = engine.Scheduler;
        for (int step = 0; step < 3; step++)
        {
            engine.Step();
            Assert.All(s.Running.Take(6), seq => Assert.Equal(seq.Length - 1, seq.ComputedTokens));
        }
        var longSeq = s.Running[6];
        Assert.Equal(3 * 10, longSeq.ComputedTokens); // 16 - 6 decode tokens per step
    }

    [Fact]
    public void WithoutChunkingALongPromptRunsWholeAndAlone()
    {
        using var model = TinyModels.Load();
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20, MaxNumBatchedTokens = 16, MaxNumSeqs = 8, ChunkedPrefill = false });
        var r = engine.AddRequest(TinyModels.RandomTokens(new Random(2), 40, model.Config.VocabSize), TinyModels.Greedy(1));
        engine.Step();
        Assert.True(r.IsFinished);
        Assert.Equal(40, engine.Metrics.PromptTokens);
    }

    [Fact]
    public void TightMemoryPreemptsTheNewestAndRecomputesIt()
    {
        using var model = TinyModels.Load();
        var rng = new Random(3);
        var prompts = Enumerable.Range(0, 4).Select(_ => TinyModels.RandomTokens(rng, 20, model.Config.VocabSize)).ToArray();
        // 96 tokens of cache for four sequences growing to 60 tokens each.
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20, MaxKvTokens = 96, MaxNumSeqs = 4 });
        var results = engine.Generate(prompts, TinyModels.Greedy(40));
        Assert.True(engine.Scheduler.Preemptions > 0);
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(TinyModels.RunAlone(model, prompts[i], TinyModels.Greedy(40)).Choices[0].TokenIds, results[i].Choices[0].TokenIds);
        Assert.Equal(0, engine.Blocks.UsedBlocks);
    }

    [Fact]
    public void ASequenceOutgrowingTheWholeCacheEndsWithLength()
    {
        using var model = TinyModels.Load();
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20, MaxKvTokens = 32 });
        var r = engine.Generate([TinyModels.RandomTokens(new Random(4), 10, model.Config.VocabSize)], TinyModels.Greedy(100))[0];
        Assert.Equal(FinishReason.Length, r.Choices[0].FinishReason);
        Assert.Equal(32 - 10 + 1, r.Choices[0].TokenIds.Length); // the last sampled token needs no slot
        Assert.Equal(0, engine.Blocks.UsedBlocks);
    }

    [Fact]
    public void LowerPriorityValuesRunFirst()
    {
        using var model = TinyModels.Load();
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20, MaxNumSeqs = 1, MaxNumBatchedTokens = 64 });
        var late = engine.AddRequest([5, 6, 7], TinyModels.Greedy(2), priority: 1);
        var early = engine.AddRequest([8, 9], TinyModels.Greedy(2), priority: 0);
        engine.Step();
        Assert.Equal(early.Id, engine.Scheduler.Running.Single().Request.Id);
        while (engine.HasWork) engine.Step();
        Assert.True(late.IsFinished && early.IsFinished);
    }

    [Fact]
    public void RejectsWhatCanNeverRun()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new EngineOptions { MaxNumSeqs = 64, MaxNumBatchedTokens = 32 }.Validate());
        using var model = TinyModels.Load();
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20, MaxKvTokens = 32, MaxNumSeqs = 2 });
        Assert.Throws<ArgumentException>(() => engine.AddRequest(new int[40], TinyModels.Greedy(1)));
        Assert.Equal("n", Assert.Throws<ArgumentOutOfRangeException>(() => engine.AddRequest([5], TinyModels.Greedy(1) with { N = 3 })).ParamName);
    }
}
