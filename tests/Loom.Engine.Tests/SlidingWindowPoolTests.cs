using Loom.Core.Tensors;
using Loom.Engine.Sampling;
using Loom.Models;
using Loom.Models.Architectures;
using Loom.Models.Quantize;
using Loom.Models.Synthetic;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Engine.Tests;

/// <summary>
/// The sliding layers' own KV pool through the engine (gemma2-tiny, gemma3-tiny, phi3-tiny with a window of 16): a long
/// sequence holds a window's worth of sliding blocks while its global table grows, the blocks it releases serve other
/// requests, no step reads a released or free block (they are filled with NaN between steps, f16 and int8 caches), the
/// budget splits between the pools, a decode step still allocates nothing, and the tokens are those of one pool that
/// keeps every position.
/// </summary>
public class SlidingWindowPoolTests(ITestOutputHelper output)
{
    private static readonly EngineOptions OnePool = new() { SlidingWindowPool = false };

    private static LoadedModel Load(string shape, LlamaFileType type = LlamaFileType.F16) => shape == "phi3-tiny-w16"
        ? Phi3ParityTests.Load(Phi3ParityTests.Window16, type, 256)
        : GemmaParityTests.Load(shape, type);

    /// <summary>Bytes one block of group <paramref name="g"/> takes across that group's layers.</summary>
    private static long BlockBytes(KvCache cache, int g)
    {
        long perLayer = KvCache.BytesPerToken(1, cache.NumKvHeads, cache.HeadDim, cache.Type) * cache.BlockSize;
        return perLayer * Enumerable.Range(0, cache.Layers).Count(l => cache.GroupOf(l) == g);
    }

    /// <summary>KV bytes the engine's sequences hold now, over every pool.</summary>
    private static long HeldBytes(LlmEngine engine) =>
        Enumerable.Range(0, engine.Blocks.Groups).Sum(g => engine.Blocks.Pool(g).UsedBlocks * BlockBytes(engine.Cache, g));

    [Theory]
    [InlineData("gemma2-tiny")]
    [InlineData("gemma3-tiny")]
    public void ALongSequenceHoldsAWindowOfSlidingBlocksWhileItsGlobalTableGrows(string shape)
    {
        using var model = Load(shape);
        var prompt = TinyModels.RandomTokens(new Random(5), 150, model.Config.VocabSize);
        var p = TinyModels.Greedy(90);
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20, MaxNumBatchedTokens = 32, MaxNumSeqs = 4 });
        Assert.Equal(2, engine.Blocks.Groups);
        var request = engine.AddRequest(prompt, p);
        int maxSliding = 0, maxGlobal = 0;
        while (engine.HasWork)
        {
            engine.Step();
            maxSliding = Math.Max(maxSliding, engine.Blocks.Pool(1).UsedBlocks);
            maxGlobal = Math.Max(maxGlobal, engine.Blocks.Pool(0).UsedBlocks);
        }
        var result = GenerationResult.CollectAsync(request).GetAwaiter().GetResult();
        Assert.Equal(TinyModels.RunAlone(model, prompt, p, OnePool).Choices[0].TokenIds, result.Choices[0].TokenIds);
        // 240 positions are 15 blocks of 16; a window of 16 spans 2 blocks, one more while the next fills.
        output.WriteLine($"{shape}: global pool up to {maxGlobal} blocks, sliding pool up to {maxSliding} of {engine.Blocks.Pool(1).NumBlocks}");
        Assert.Equal(15, maxGlobal);
        Assert.True(maxSliding <= 16 / 16 + 2, $"{maxSliding} sliding blocks held");
        Assert.Equal(0, engine.Blocks.UsedBlocks);
        engine.Blocks.CheckConsistency();
    }

    /// <summary>
    /// Four long requests at once through a sliding pool of 12 blocks, which holds the windows of all of them but not
    /// a quarter of their 60 blocks of positions: what each releases serves the others, and each gets its tokens alone.
    /// </summary>
    [Theory]
    [InlineData("gemma2-tiny")]
    [InlineData("phi3-tiny-w16")]
    public void ReleasedBlocksServeOtherRequests(string shape)
    {
        using var model = Load(shape);
        using var engine = FourLongRequestsEachAsAlone(model, slidingBlocks: 12, out var prompts);
        Assert.Equal(12, engine.Blocks.Pool(engine.Blocks.Groups - 1).NumBlocks);
        Assert.True(prompts.Sum(pr => (pr.Length + 60) / 16) > 4 * 12, "the requests fit the sliding pool without reuse");
        Assert.Equal(0, engine.Blocks.UsedBlocks);
        engine.Blocks.CheckConsistency();
        output.WriteLine($"{shape}: {engine.Scheduler.Preemptions} preemptions");
    }

    /// <summary>
    /// Four long requests (120–160 prompt tokens, 60 generated, greedy) at once through a sliding pool of
    /// <paramref name="slidingBlocks"/> blocks; asserts each gets the tokens it gets alone on one pool, and returns the
    /// engine for the caller's checks.
    /// </summary>
    private static LlmEngine FourLongRequestsEachAsAlone(LoadedModel model, int slidingBlocks, out int[][] prompts)
    {
        var rng = new Random(9);
        prompts = Enumerable.Range(0, 4).Select(_ => TinyModels.RandomTokens(rng, 120 + rng.Next(40), model.Config.VocabSize)).ToArray();
        var p = TinyModels.Greedy(60);
        var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20, MaxNumBatchedTokens = 16, MaxNumSeqs = 4, SlidingKvBlocks = slidingBlocks });
        try
        {
            var results = engine.Generate(prompts, p);
            for (int i = 0; i < prompts.Length; i++)
                Assert.Equal(TinyModels.RunAlone(model, prompts[i], p, OnePool).Choices[0].TokenIds, results[i].Choices[0].TokenIds);
            return engine;
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The same four requests through a sliding pool too small for all their windows at once: sequences are preempted
    /// (their sliding blocks, released ones and all, go back) and recomputed, and each still gets its tokens alone. A
    /// model whose every layer slides has no other pool to run short, so this is where its preemption is proven.
    /// </summary>
    [Theory]
    [InlineData("phi3-tiny-w16")]
    [InlineData("gemma2-tiny")]
    public void A_pool_short_of_windows_preempts_and_each_request_keeps_its_tokens(string shape)
    {
        using var model = Load(shape);
        using var engine = FourLongRequestsEachAsAlone(model, slidingBlocks: 5, out _);
        Assert.True(engine.Scheduler.Preemptions > 0, "the pool held every window: nothing was preempted");
        Assert.Equal(0, engine.Blocks.UsedBlocks);
        engine.Blocks.CheckConsistency();
    }

    /// <summary>
    /// A batch with chunked prefill, a shared head in the prefix cache and n-gram speculation, with every free block
    /// and the null block filled with NaN after each step: the tokens equal those of one pool keeping every position.
    /// </summary>
    [Theory]
    [InlineData("gemma2-tiny", KvCacheType.F16)]
    [InlineData("gemma3-tiny", KvCacheType.Int8)]
    [InlineData("phi3-tiny-w16", KvCacheType.F16)]
    [InlineData("phi3-tiny-w16", KvCacheType.Int8)]
    public void NoStepReadsAReleasedOrFreeBlock(string shape, KvCacheType dtype)
    {
        using var model = Load(shape);
        var rng = new Random(31);
        var head = TinyModels.RandomTokens(rng, 40, model.Config.VocabSize);
        var prompts = Enumerable.Range(0, 8).Select(i =>
        {
            var own = TinyModels.RandomTokens(rng, 1 + rng.Next(50), model.Config.VocabSize);
            return i % 2 == 0 ? [.. head, .. own] : own;
        }).ToArray();
        var p = TinyModels.Greedy(40);
        var options = new EngineOptions
        {
            KvCacheBytes = 16 << 20, MaxNumBatchedTokens = 24, MaxNumSeqs = 8, KvCacheDtype = dtype,
            Speculative = SpeculativeDecodingTests.Ngram with { NumTokens = 3, MaxBatchTokens = 24 },
        };
        using var engine = new LlmEngine(model, options);
        engine.Generate([prompts[0]], p);
        var requests = prompts.Select(pr => engine.AddRequest(pr, p)).ToArray();
        while (engine.HasWork)
        {
            engine.Step();
            var bm = engine.Blocks;
            for (int g = 0; g < bm.Groups; g++)
            {
                if (bm.Window(g) > 0) engine.Cache.Poison(g, BlockPool.Null);
                foreach (int b in bm.Pool(g).FreeBlockIds()) engine.Cache.Poison(g, b);
            }
        }
        using var plain = new LlmEngine(model, options with { SlidingWindowPool = false, Speculative = null, PrefixCaching = false });
        var want = plain.Generate(prompts, p);
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(want[i].Choices[0].TokenIds, GenerationResult.CollectAsync(requests[i]).GetAwaiter().GetResult().Choices[0].TokenIds);
        Assert.True(engine.Blocks.PrefixHits > 0, "the shared head was not found in the prefix cache");
        Assert.Equal(0, engine.Blocks.UsedBlocks);
        engine.Blocks.CheckConsistency();
    }

    [Fact]
    public void TheBudgetSplitsBetweenThePools()
    {
        using var model = Load("gemma2-tiny");
        var c = model.Config;
        var options = new EngineOptions { KvCacheBytes = 8 << 20, MaxNumSeqs = 4, MaxNumBatchedTokens = 64, MaxKvTokens = 1 << 20 };
        var split = ModelRunner.PoolSizes(c, options);
        var one = ModelRunner.PoolSizes(c, options with { SlidingWindowPool = false });
        // The sliding pool: 4 windows of 1 block and 2 partial ones, and the step's 64 tokens.
        Assert.Equal(4 * 3 + 4, split.Sliding);
        Assert.Equal(0, one.Sliding);
        // Half the layers slide, so the global pool (what the budget leaves after the sliding pool) nearly doubles.
        Assert.True(split.Full > 17 * one.Full / 10, $"{split.Full} global blocks vs {one.Full} on one pool");
        using var engine = new LlmEngine(model, options);
        Assert.True(engine.KvCacheBytes <= 8 << 20);
        Assert.Equal(split.Full, engine.Blocks.Pool(0).NumBlocks);
        Assert.Equal(split.Sliding, engine.Blocks.Pool(1).NumBlocks);
        // With every layer sliding there is no global pool, and no sequence length is bounded by the cache.
        using var phi3 = Load("phi3-tiny-w16");
        using var allSliding = new LlmEngine(phi3, options);
        Assert.Equal(1, allSliding.Blocks.Groups);
        Assert.Equal(16, allSliding.Blocks.Window(0));
        Assert.Equal(long.MaxValue, allSliding.Blocks.MaxSequenceTokens);
        // A sliding pool must hold at least one window and the blocks on either side of it.
        Assert.Throws<ArgumentException>(() => ModelRunner.PoolSizes(c, options with { SlidingKvBlocks = 2 }));
    }

    /// <summary>The memory a 2,000-token gemma2-tiny-shaped sequence holds, on one pool and with the sliding pool.</summary>
    [Fact]
    public void A2000TokenSequenceHoldsAboutHalfTheBytes()
    {
        using var model = ReferenceParity.LoadSynthetic(SyntheticModelSpec.Gemma2Tiny with { Name = "gemma2-tiny-ctx4096", ContextLength = 4096 }, LlamaFileType.F16);
        var prompt = TinyModels.RandomTokens(new Random(3), 1990, model.Config.VocabSize);
        long Held(bool pool, out int[] tokens)
        {
            using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 64 << 20, MaxNumSeqs = 1, MaxNumBatchedTokens = 512, SlidingWindowPool = pool });
            var r = engine.AddRequest(prompt, TinyModels.Greedy(10));
            long most = 0;
            while (engine.HasWork)
            {
                engine.Step();
                most = Math.Max(most, HeldBytes(engine));
            }
            tokens = GenerationResult.CollectAsync(r).GetAwaiter().GetResult().Choices[0].TokenIds;
            return most;
        }
        long before = Held(false, out var a), after = Held(true, out var b);
        output.WriteLine($"2000-token gemma2-tiny sequence: {before} bytes on one pool, {after} bytes with the sliding pool ({(double)after / before:P1})");
        Assert.Equal(a, b);
        Assert.True(after < before * 52 / 100, $"{after} bytes vs {before}");
    }

    /// <summary>A steady decode step past the window on gemma3-tiny, releasing sliding blocks as it goes, allocates nothing.</summary>
    [Theory]
    [InlineData(null)]
    [InlineData("ngram")]
    public void DecodeStepsPastTheWindowAllocateNothing(string? speculative)
    {
        string dir = Directory.CreateTempSubdirectory("loom-sliding-alloc-").FullName;
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            SyntheticModel.Write(path, SyntheticModelSpec.Gemma3Tiny with { ContextLength = 1024 }, GgmlType.Q8_0, seed: 3);
            using var model = ModelLoader.Load(path);
            using var engine = new LlmEngine(model, new EngineOptions
            {
                KvCacheBytes = 64 << 20, MaxKvTokens = 16 * 1024, MaxNumSeqs = 8, Threads = 2,
                Speculative = speculative is null ? null : SpeculativeDecodingTests.Method(speculative, model) with { NumTokens = 3, MaxBatchTokens = 64 },
            });
            const int sequences = 8, maxTokens = 600, measured = 64;
            var rng = new Random(7);
            var requests = new Request[sequences];
            for (int i = 0; i < sequences; i++)
            {
                var unit = TinyModels.RandomTokens(rng, 4 + i % 3, model.Config.VocabSize);
                requests[i] = engine.AddRequest([.. unit, .. unit, .. unit], new SamplingParams { MaxTokens = maxTokens, IgnoreEos = true, Seed = (ulong)i, Temperature = 0.9f });
            }
            void Drain()
            {
                foreach (var r in requests)
                    while (r.TryReadOutput(out _)) { }
            }
            long allocated = AllocationProbe.Measure(() => engine.Step(), measured, maxSteps: maxTokens - 8, between: Drain);
            Assert.Equal(sequences, engine.Scheduler.RunningCount);
            Assert.True(engine.Scheduler.Running.All(s => s.ReleasedBlocks(1) > 0), "no sequence ran past its window");
            Assert.True(allocated == 0, $"{allocated} bytes allocated over {measured} engine steps");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
