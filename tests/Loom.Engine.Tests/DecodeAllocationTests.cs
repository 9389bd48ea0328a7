using Loom.Tests;
using Loom.Core.Tensors;
using Loom.Engine.Sampling;
using Loom.Models;
using Loom.Models.Architectures;
using Loom.Models.Synthetic;

namespace Loom.Engine.Tests;

/// <summary>The per-token loop (forward pass, sampling) allocates no managed memory once warmed up.</summary>
public class DecodeAllocationTests
{
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.Q4_0, true)]
    [InlineData(GgmlType.F16, true)]
    [InlineData(GgmlType.Q8_0, true, true)]
    public void DecodeLoopAllocatesNothing(GgmlType type, bool moe = false, bool mla = false)
    {
        string dir = Directory.CreateTempSubdirectory("loom-alloc-").FullName;
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            // Large enough that every matmul goes through the thread pool.
            // The MoE model is Qwen2-MoE's layout: routed experts and a gated shared expert.
            // The latent-attention model is deepseek2's: q LoRA, latent cache, a leading dense layer, shared experts.
            var spec = mla
                ? SyntheticModelSpec.Deepseek2Tiny with
                {
                    Dim = 256, FfnDim = 512, ExpertFfnDim = 128, NumHeads = 8, NumKvHeads = 8, ContextLength = 1024,
                    Mla = SyntheticModelSpec.Deepseek2Tiny.Mla! with { QLoraRank = 64, KvLoraRank = 128 },
                }
                : moe
                ? SyntheticModelSpec.Qwen2MoeTiny with { Dim = 256, ExpertFfnDim = 128, SharedExpertFfnDim = 256, NumHeads = 8, NumKvHeads = 2, ContextLength = 1024 }
                : SyntheticModelSpec.Tiny with { Dim = 256, FfnDim = 512, NumHeads = 8, NumKvHeads = 2, ContextLength = 1024 };
            SyntheticModel.Write(path, spec, type, seed: 5);
            using var model = ModelLoader.Load(path);
            var m = model.Transformer;
            var c = m.Config;
            // Room for four measured runs after the warm-up (the probe keeps the least of them): on a loaded CI machine
            // 8 KB appeared in both of the only two runs 512 positions left room for, once and not reproducibly (a late
            // tier-up is the likely cause; the assertion is unchanged).
            const int blockSize = 16, tokens = 1000, measured = 160;
            using var cache = KvCache.For(c, tokens / blockSize + 1, blockSize);
            var table = Enumerable.Range(0, tokens / blockSize + 1).ToArray();
            // A pool of its own: the shared one, busy with another test, runs the work inline on this thread, whose
            // scratch then grows once for the larger share (a one-time allocation, but inside the measured steps).
            using var pool = new Loom.Core.Threading.ComputePool(2);
            var batch = new ForwardBatch();
            var logits = new float[c.VocabSize];
            var sampler = new Sampler(new SamplingParams { Temperature = 0.8f, TopK = 40, TopP = 0.95f, Seed = 1 }, c.VocabSize);
            var output = new int[tokens];
            int token = 1;

            void Step(int pos)
            {
                batch.Clear();
                output[pos] = token;
                batch.Add(output.AsSpan(pos, 1), pos, table);
                m.Forward(batch, cache, logits, pool);
                token = sampler.Sample(logits, ReadOnlySpan<int>.Empty, output.AsSpan(0, pos + 1));
            }

            int pos = 0;
            long allocated = AllocationProbe.Measure(() => Step(pos++), measured, maxSteps: tokens);
            Assert.True(allocated == 0, $"{allocated} bytes allocated over {measured} decode steps");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
