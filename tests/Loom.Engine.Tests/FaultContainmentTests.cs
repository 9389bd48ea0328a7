using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

/// <summary>
/// A failure inside the engine ends the request it concerns with an error and nothing else: the other requests get
/// the answers they get alone, every block and queue slot comes back, and the engine keeps serving.
/// </summary>
public class FaultContainmentTests
{
    /// <summary>Throws at <paramref name="stage"/> for one request, the <paramref name="after"/>-th time it gets there.</summary>
    private sealed class FailOne(string requestId, EngineStage stage, int after) : IEngineFaults
    {
        private int _seen;
        public void At(EngineStage s, Request r)
        {
            if (s == stage && r.Id == requestId && _seen++ == after) throw new InvalidOperationException($"injected {stage} fault");
        }
    }

    [Theory]
    [InlineData(EngineStage.Admit, 0)]
    [InlineData(EngineStage.Schedule, 0)]
    [InlineData(EngineStage.Schedule, 3)]
    [InlineData(EngineStage.Sample, 0)]
    [InlineData(EngineStage.Sample, 4)]
    [InlineData(EngineStage.Emit, 0)]
    [InlineData(EngineStage.Emit, 5)]
    public void OneFaultyRequestAmongSixteenFailsAlone(EngineStage stage, int after)
    {
        using var model = TinyModels.Load();
        var rng = new Random(7 + (int)stage);
        var prompts = Enumerable.Range(0, 16).Select(_ => TinyModels.RandomTokens(rng, 4 + rng.Next(40), model.Config.VocabSize)).ToArray();
        var p = TinyModels.Greedy(8);
        const int victim = 5;
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 64 << 20, MaxKvTokens = 4096, Faults = new FailOne("victim", stage, after) });
        var failed = new List<string>();
        engine.RequestFailed += (id, _) => failed.Add(id);

        var requests = prompts.Select((prompt, i) => engine.AddRequest(prompt, i == victim ? p with { N = 2, Seed = 1 } : p, i == victim ? "victim" : $"r{i}")).ToArray();
        RunToEnd(engine, requests);

        var results = requests.Select(r => GenerationResult.CollectAsync(r).GetAwaiter().GetResult()).ToArray();
        Assert.Equal(["victim"], failed);
        Assert.All(results[victim].Choices, c => Assert.Equal(FinishReason.Error, c.FinishReason));
        Assert.Contains(results[victim].Choices, c => c.StopReason!.Contains("injected"));
        for (int i = 0; i < prompts.Length; i++)
            if (i != victim) Assert.Equal(TinyModels.RunAlone(model, prompts[i], p).Choices[0].TokenIds, results[i].Choices[0].TokenIds);
        AssertNothingLeaked(engine);
        Assert.Equal(1, engine.Metrics.Failed);
    }

    [Fact]
    public void AFailedForwardPassFailsItsBatchAndTheEngineCarriesOn()
    {
        using var model = TinyModels.Load();
        var rng = new Random(3);
        var p = TinyModels.Greedy(8);
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 64 << 20, MaxKvTokens = 4096, Faults = new FailOne("victim", EngineStage.Run, 3) });
        var first = Enumerable.Range(0, 8).Select(i => engine.AddRequest(TinyModels.RandomTokens(rng, 10, model.Config.VocabSize), p, i == 0 ? "victim" : $"a{i}")).ToArray();
        RunToEnd(engine, first);
        // Everything in the failed step failed with it: here, every request (they all decode together by then).
        Assert.All(first, r => Assert.Equal(FinishReason.Error, GenerationResult.CollectAsync(r).GetAwaiter().GetResult().Choices[0].FinishReason));
        AssertNothingLeaked(engine);

        // The engine still serves, with the same answers as ever.
        var prompts = Enumerable.Range(0, 4).Select(_ => TinyModels.RandomTokens(rng, 12, model.Config.VocabSize)).ToArray();
        var second = prompts.Select(pr => engine.AddRequest(pr, p)).ToArray();
        RunToEnd(engine, second);
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(TinyModels.RunAlone(model, prompts[i], p).Choices[0].TokenIds, GenerationResult.CollectAsync(second[i]).GetAwaiter().GetResult().Choices[0].TokenIds);
        AssertNothingLeaked(engine);
    }

    [Fact]
    public void StopTokenIdsOutsideTheVocabularyAreRefusedAtSubmission()
    {
        using var model = TinyModels.Load();
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20 });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => engine.AddRequest([5, 6, 7], TinyModels.Greedy(4) with { StopTokenIds = [model.Config.VocabSize] }));
        Assert.Equal("stop_token_ids", e.ParamName);
        var n = Assert.Throws<ArgumentOutOfRangeException>(() => engine.AddRequest([5, 6, 7], TinyModels.Greedy(4) with { N = engine.Options.MaxNumSeqs + 1 }));
        Assert.Equal("n", n.ParamName);
        Assert.Equal(0, engine.PendingRequests);
    }

    private static void RunToEnd(LlmEngine engine, Request[] requests)
    {
        for (int steps = 0; requests.Any(r => !r.IsFinished); steps++)
        {
            Assert.True(steps < 10_000, "the engine stopped making progress");
            engine.Step();
        }
    }

    private static void AssertNothingLeaked(LlmEngine engine)
    {
        Assert.Equal(0, engine.PendingRequests);
        Assert.Equal(0, engine.Scheduler.RunningCount);
        Assert.Equal(0, engine.Scheduler.WaitingCount);
        Assert.Equal(0, engine.Blocks.UsedBlocks);
    }
}
