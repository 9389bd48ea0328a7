using Loom.Core.Tensors;
using Loom.Engine.Sampling;
using Loom.Models;
using Loom.Models.Synthetic;
using Loom.Tests;
using Loom.Models.Architectures;
using Loom.Models.Quantize;
using Xunit.Abstractions;

namespace Loom.Engine.Tests;

/// <summary>
/// Gemma 2 and 3 (create-model's tiny shapes, window 16) through the engine's fast paths: batching, chunked prefill
/// in chunks shorter than the window, the prefix cache over a prefix longer than the window and the tiled/split
/// attention kernels each give the greedy tokens of one request run alone on the exact path; and every block
/// comes back.
/// </summary>
public class GemmaEngineTests(ITestOutputHelper output)
{
    private static int[][] Prompts(LoadedModel model, int count, int seed)
    {
        var rng = new Random(seed);
        int vocab = model.Config.VocabSize;
        // A 40-token head, past the window, shared by a third of them so that the prefix cache finds it.
        var head = TinyModels.RandomTokens(rng, 40, vocab);
        return Enumerable.Range(0, count).Select(i =>
        {
            var own = TinyModels.RandomTokens(rng, 1 + rng.Next(60), vocab);
            return i % 3 == 0 ? [.. head, .. own] : own;
        }).ToArray();
    }

    private static readonly EngineOptions Exact = new() { Attention = new AttentionPolicy { ExactOnly = true } };

    [Theory]
    [InlineData("gemma2-tiny", true, true)]
    [InlineData("gemma2-tiny", false, false)]
    [InlineData("gemma3-tiny", true, true)]
    [InlineData("gemma3-tiny", false, true)]
    public void BatchedChunkedAndCachedRunsMatchEachRequestAlone(string shape, bool chunkedPrefill, bool prefixCaching)
    {
        using var model = GemmaParityTests.Load(shape, LlamaFileType.F16);
        var prompts = Prompts(model, 12, 77);
        var p = TinyModels.Greedy(24);
        var alone = prompts.Select(pr => TinyModels.RunAlone(model, pr, p, Exact).Choices[0].TokenIds).ToArray();
        // Chunks of 8 tokens (half the window), so chunk boundaries fall inside and outside every window.
        var options = new EngineOptions
        {
            ChunkedPrefill = chunkedPrefill, PrefixCaching = prefixCaching, MaxNumBatchedTokens = chunkedPrefill ? 12 : 128, MaxNumSeqs = 12,
            KvCacheBytes = 64 << 20, MaxKvTokens = 4096,
        };
        using var engine = new LlmEngine(model, options);
        // One request first, so the others find its head in the prefix cache.
        engine.Generate([prompts[0]], p);
        var results = engine.Generate(prompts, p);
        for (int i = 0; i < prompts.Length; i++)
            Assert.True(alone[i].SequenceEqual(results[i].Choices[0].TokenIds),
                $"request {i} ({prompts[i].Length} prompt tokens): batched [{string.Join(",", results[i].Choices[0].TokenIds)}] vs alone [{string.Join(",", alone[i])}]");
        if (prefixCaching) Assert.True(results.Count(r => r.CachedPromptTokens >= 32) >= 3, "the shared head was not found in the prefix cache");
        Assert.Equal(0, engine.Blocks.UsedBlocks);
        engine.Blocks.CheckConsistency();
        output.WriteLine($"{shape}: {engine.Metrics.Steps} steps, prefix hit rate {engine.Blocks.PrefixHitRate:P0}");
    }

    /// <summary>Tiled prompts and split decodes (forced at every length) against the exact path: the same greedy tokens.</summary>
    [Theory]
    [InlineData("gemma2-tiny")]
    [InlineData("gemma3-tiny")]
    public void OnlineAttentionPathsGiveTheExactPathsTokens(string shape)
    {
        using var model = GemmaParityTests.Load(shape, LlamaFileType.F32);
        var prompts = Prompts(model, 6, 91);
        var p = TinyModels.Greedy(24);
        var online = new EngineOptions { Attention = new AttentionPolicy { SplitMinPositions = 0, TiledMinPositions = 0, ForceOnline = true, PlanThreads = 8 } };
        for (int i = 0; i < prompts.Length; i++)
        {
            var exact = TinyModels.RunAlone(model, prompts[i], p, Exact).Choices[0].TokenIds;
            var fast = TinyModels.RunAlone(model, prompts[i], p, online).Choices[0].TokenIds;
            Assert.True(exact.SequenceEqual(fast), $"request {i}: online [{string.Join(",", fast)}] vs exact [{string.Join(",", exact)}]");
        }
    }

    /// <summary>
    /// A sequence far longer than the window: the global layers keep every position, the sliding layers' pool hands back
    /// what leaves their window (SlidingWindowPoolTests), the blocks in use are the sequence's own, and all come back
    /// when it ends.
    /// </summary>
    [Fact]
    public void ALongSequencePastTheWindowHoldsItsOwnBlocksAndReturnsThem()
    {
        using var model = GemmaParityTests.Load("gemma2-tiny", LlamaFileType.F16);
        var prompt = TinyModels.RandomTokens(new Random(5), 150, model.Config.VocabSize);
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20, MaxNumBatchedTokens = 32, MaxNumSeqs = 4 });
        var r = engine.Generate([prompt], TinyModels.Greedy(40))[0];
        Assert.Equal(TinyModels.RunAlone(model, prompt, TinyModels.Greedy(40), Exact).Choices[0].TokenIds, r.Choices[0].TokenIds);
        Assert.Equal(0, engine.Blocks.UsedBlocks);
        Assert.Equal(engine.Blocks.NumBlocks, engine.Blocks.CachedBlocks + engine.Blocks.FreeBlocks);
        engine.Blocks.CheckConsistency();
    }

    /// <summary>Gemma's steps keep the per-token loop free of managed allocation (as DecodeAllocationTests for the others).</summary>
    [Theory]
    [InlineData("gemma2-tiny")]
    [InlineData("gemma3-tiny")]
    public void DecodeLoopAllocatesNothing(string shape)
    {
        string dir = Directory.CreateTempSubdirectory("loom-gemma-alloc-").FullName;
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            var spec = GemmaParityTests.Spec(shape) with { Dim = 256, FfnDim = 512, NumHeads = 8, NumKvHeads = 2, HeadDim = 32, ContextLength = 1024 };
            SyntheticModel.Write(path, spec, GgmlType.Q8_0, seed: 5);
            using var model = ModelLoader.Load(path);
            var m = model.Transformer;
            var c = m.Config;
            const int blockSize = 16, tokens = 640, measured = 100;
            using var cache = new KvCache(c.NumLayers, c.NumKvHeads * c.HeadDim, tokens / blockSize + 1, blockSize);
            var table = Enumerable.Range(0, tokens / blockSize + 1).ToArray();
            using var pool = new Core.Threading.ComputePool(2);
            var batch = new ForwardBatch();
            var logits = new float[c.VocabSize];
            var sampler = new Sampler(new SamplingParams { Temperature = 0.8f, TopK = 40, Seed = 1 }, c.VocabSize);
            var output = new int[tokens];
            int token = 1, pos = 0;
            void Step()
            {
                batch.Clear();
                output[pos] = token;
                batch.Add(output.AsSpan(pos, 1), pos, table);
                m.Forward(batch, cache, logits, pool);
                token = sampler.Sample(logits, ReadOnlySpan<int>.Empty, output.AsSpan(0, pos + 1));
                pos++;
            }
            long allocated = AllocationProbe.Measure(Step, measured, maxSteps: tokens);
            Assert.True(allocated == 0, $"{allocated} bytes allocated over {measured} decode steps");
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }
}
