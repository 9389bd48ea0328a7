using Loom.Core.Tensors;
using Loom.Engine.Sampling;
using Loom.Models;
using Loom.Models.Architectures;
using Loom.Models.Synthetic;

namespace Loom.Engine.Tests;

/// <summary>
/// Thread count and attention policy belong to an engine, not the process: two engines (two models, or a draft
/// and a target) running at once each produce exactly what they produce alone.
/// </summary>
public class TwoEnginesTests
{
    [Fact]
    public async Task ConcurrentEnginesWithDifferentThreadsAndPoliciesMatchTheirSoloRuns()
    {
        string dir = Directory.CreateTempSubdirectory("loom-two-engines-").FullName;
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            // Wide enough that matmuls and attention go through the pool; long enough that the tiled and split
            // attention kernels have positions to work on.
            SyntheticModel.Write(path, SyntheticModelSpec.Tiny with { Dim = 256, FfnDim = 512, NumHeads = 8, NumKvHeads = 2, ContextLength = 512 }, GgmlType.Q8_0, seed: 7);
            var exact = new EngineOptions { Threads = 1, Attention = new AttentionPolicy { ExactOnly = true }, KvCacheBytes = 64 << 20 };
            var tiled = new EngineOptions { Threads = 3, Attention = new AttentionPolicy { SplitMinPositions = 0, TiledMinPositions = 0, ForceOnline = true }, KvCacheBytes = 64 << 20 };
            var rng = new Random(3);
            var prompts = Enumerable.Range(0, 6).Select(i => TinyModels.RandomTokens(rng, 20 + 37 * i, 512)).ToArray();
            var p = TinyModels.Greedy(24) with { Logprobs = 2 };

            // A transformer runs one forward pass at a time, so each engine has its own copy of the model.
            using var modelA = ModelLoader.Load(path);
            using var modelB = ModelLoader.Load(path);
            var soloA = Run(modelA, exact, prompts, p);
            var soloB = Run(modelB, tiled, prompts, p);

            var both = await Task.WhenAll(
                Task.Run(() => Run(modelA, exact, prompts, p)),
                Task.Run(() => Run(modelB, tiled, prompts, p)));

            AssertSame(soloA, both[0], "exact, 1 thread");
            AssertSame(soloB, both[1], "tiled, 3 threads");
            // The policies really differ: the online-softmax kernels round differently from the exact ones.
            Assert.NotEqual(Logprobs(soloA), Logprobs(soloB));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static IReadOnlyList<GenerationResult> Run(LoadedModel model, EngineOptions options, int[][] prompts, SamplingParams p)
    {
        using var engine = new LlmEngine(model, options);
        // Several rounds, so that the two engines' steps interleave for a while.
        var results = new List<GenerationResult>();
        for (int round = 0; round < 3; round++) results.AddRange(engine.Generate(prompts, p));
        return results;
    }

    private static float[] Logprobs(IReadOnlyList<GenerationResult> results) =>
        results.SelectMany(r => r.Choices).SelectMany(c => c.Logprobs).Select(l => l.Logprob).ToArray();

    private static void AssertSame(IReadOnlyList<GenerationResult> expected, IReadOnlyList<GenerationResult> actual, string engine)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i].Choices[0], actual[i].Choices[0]);
            Assert.True(e.TokenIds.SequenceEqual(a.TokenIds), $"{engine}: request {i} tokens differ");
            Assert.True(e.Logprobs.Select(l => l.Logprob).SequenceEqual(a.Logprobs.Select(l => l.Logprob)), $"{engine}: request {i} logprobs differ");
        }
    }
}
