using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

/// <summary>n &gt; 1: the choices share the prompt's blocks (the last partial one copied on first write) and each
/// samples exactly what a single request with its derived seed samples alone.</summary>
public class ForkTests
{
    private const ulong SeedMix = 0xD1B54A32D192ED03UL; // how Sampler derives choice i's seed

    [Theory]
    [InlineData(21)]  // last prompt block partial: copy-on-write
    [InlineData(32)]  // prompt ends on a block boundary
    [InlineData(1)]
    public void ChoicesMatchTheirSeedsRunAlone(int promptLength)
    {
        using var model = TinyModels.Load();
        var prompt = TinyModels.RandomTokens(new Random(promptLength), promptLength, model.Config.VocabSize);
        var p = new SamplingParams { Temperature = 1.0f, Seed = 77, MaxTokens = 24, IgnoreEos = true, N = 4 };
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20 });
        var r = engine.Generate([prompt], p)[0];

        Assert.Equal(4, r.Choices.Count);
        for (int i = 0; i < 4; i++)
        {
            var alone = TinyModels.RunAlone(model, prompt, p with { N = 1, Seed = 77UL ^ ((ulong)i * SeedMix) }).Choices[0].TokenIds;
            Assert.Equal(alone, r.Choices[i].TokenIds);
        }
        Assert.True(r.Choices.Select(c => string.Join(",", c.TokenIds)).Distinct().Count() > 1, "sampled choices should differ");
        // The prompt was prefilled once for all four choices.
        Assert.Equal(promptLength, engine.Metrics.PromptTokens);
        Assert.Equal(0, engine.Blocks.UsedBlocks);
        engine.Blocks.CheckConsistency();
    }

    [Fact]
    public void ForkedChoicesHoldThePromptBlocksOnce()
    {
        using var model = TinyModels.Load();
        var prompt = TinyModels.RandomTokens(new Random(3), 40, model.Config.VocabSize);
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20 });
        var request = engine.AddRequest(prompt, new SamplingParams { Temperature = 1, Seed = 1, MaxTokens = 8, IgnoreEos = true, N = 3 });
        engine.Step(); // prefill + first tokens
        Assert.Equal(3, engine.Scheduler.RunningCount);
        // 40 tokens = 3 blocks, shared by all three.
        Assert.Equal(3, engine.Blocks.UsedBlocks);
        engine.Step(); // each writes position 40 in the shared third block: two copies
        Assert.Equal(5, engine.Blocks.UsedBlocks);
        var seqs = request.Sequences;
        Assert.Equal(seqs[0].Blocks[0], seqs[2].Blocks[0]);
        Assert.Equal(3, seqs.Select(s => s.Blocks[2]).Distinct().Count());
        engine.Abort(request.Id);
        engine.Step();
        Assert.True(request.IsFinished);
        Assert.Equal(0, engine.Blocks.UsedBlocks);
    }

    [Fact]
    public void AbortBeforeThePromptIsComputedEndsEveryChoice()
    {
        using var model = TinyModels.Load();
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20 });
        var request = engine.AddRequest([5, 6, 7], new SamplingParams { Temperature = 1, MaxTokens = 8, N = 3 });
        engine.Abort(request.Id);
        engine.Step();
        var outputs = new List<RequestOutput>();
        var reader = request.Outputs().GetAsyncEnumerator();
        while (reader.MoveNextAsync().AsTask().GetAwaiter().GetResult()) outputs.Add(reader.Current);
        // Every choice says how it ended, before the stream completes.
        Assert.Equal([0, 1, 2], outputs.Where(o => o.FinishReason == FinishReason.Abort).Select(o => o.Index).Order());
        Assert.Equal(0, engine.PendingRequests);
    }
}
