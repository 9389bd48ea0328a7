using Loom.Tests;
using Loom.Core.Tensors;
using Loom.Engine.Sampling;
using Loom.Engine.Speculative;
using Loom.Models;
using Loom.Models.Synthetic;

namespace Loom.Engine.Tests;

/// <summary>
/// A steady-state engine step allocates nothing, the engine included: scheduling, the forward pass, sampling, block
/// commits to the prefix cache, detokenizing, stop-string checks and emitting each sequence's output; with speculative
/// decoding also proposing drafts, verifying them and rolling back the rejected tokens' blocks.
/// </summary>
public class EngineStepAllocationTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("ngram")]
    [InlineData("layers:1")]
    [InlineData("draft")]
    public void DecodeStepWithSixteenRunningSequencesAllocatesNothing(string? speculative)
    {
        string dir = Directory.CreateTempSubdirectory("loom-step-alloc-").FullName;
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            SyntheticModel.Write(path, SyntheticModelSpec.Tiny with { ContextLength = 1024 }, GgmlType.Q8_0, seed: 3);
            using var model = ModelLoader.Load(path);
            // A draft model of other weights: the model drafting for itself would have its sampled drafts accepted
            // throughout, and its sequences would reach their length before the measured steps.
            string otherPath = Path.Combine(dir, "o.gguf");
            if (speculative == "draft") SyntheticModel.Write(otherPath, SyntheticModelSpec.Tiny with { ContextLength = 1024 }, GgmlType.Q8_0, seed: 4);
            using var other = speculative == "draft" ? ModelLoader.Load(otherPath) : null;
            // Its own two-thread pool (Threads), so another test busy on the shared pool cannot change who runs what.
            using var engine = new LlmEngine(model, new EngineOptions
            {
                KvCacheBytes = 64 << 20, MaxKvTokens = 16 * 1024, MaxNumSeqs = 16, Threads = 2,
                Speculative = speculative is null ? null : SpeculativeDecodingTests.Method(speculative, other ?? model) with { NumTokens = 3, MaxBatchTokens = 64 },
            });
            const int sequences = 16, maxTokens = 600, measured = 64;
            string? failure = null;
            engine.RequestFailed += (id, e) => failure ??= $"{id}: {e}";
            var rng = new Random(7);
            var requests = new Request[sequences];
            for (int i = 0; i < sequences; i++)
            {
                var p = new SamplingParams
                {
                    MaxTokens = maxTokens, IgnoreEos = true, Seed = (ulong)i, Temperature = 0.9f, TopK = 40, TopP = 0.95f, MinP = 0.02f,
                    RepetitionPenalty = 1.1f,
                    // Half the sequences watch for stop strings that never complete: the matcher runs on every token.
                    Stop = i % 2 == 0 ? ["#never-said#", "@also-never@"] : [],
                };
                // A repeated run, so n-gram drafts are proposed from the start.
                var unit = TinyModels.RandomTokens(rng, 4 + i % 3, model.Config.VocabSize);
                requests[i] = engine.AddRequest([.. unit, .. unit, .. unit], p);
            }
            int emitted = 0;
            void Drain()
            {
                foreach (var r in requests)
                    while (r.TryReadOutput(out var o)) emitted += o.TokenIds.Length;
            }

            long allocated = AllocationProbe.Measure(() => engine.Step(), measured, maxSteps: maxTokens - 8, between: Drain);

            Assert.True(engine.Scheduler.RunningCount == sequences, $"{engine.Scheduler.RunningCount} running; {allocated} bytes allocated; {failure}");
            Assert.True(emitted >= sequences * (96 + measured), $"only {emitted} tokens emitted");
            Assert.True(allocated == 0, $"{allocated} bytes allocated over {measured} engine steps with {sequences} sequences");
            if (speculative is not null) Assert.True(engine.Metrics.SpeculativeDraftTokens > 0, "no draft was verified");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void DecodeStepWithConstrainedSequencesAllocatesNothing()
    {
        string dir = Directory.CreateTempSubdirectory("loom-step-alloc-").FullName;
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            SyntheticModel.Write(path, SyntheticModelSpec.Tiny with { ContextLength = 1024 }, GgmlType.Q8_0, seed: 3);
            using var model = ModelLoader.Load(path);
            using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 64 << 20, MaxKvTokens = 16 * 1024, MaxNumSeqs = 16, Threads = 2 });
            const int sequences = 16, maxTokens = 600, measured = 64;
            // Recursion (pushes and pops every few bytes, so the matcher's node arena fills and is collected) and an
            // unbounded language, so no sequence ends inside the measured window.
            var grammar = Loom.Engine.Structured.Constraint.Grammar("""
                root ::= item+
                item ::= "(" item* ")" | [a-z0-9 ] | "\"" [^"]{0,3} "\""
                """);
            var rng = new Random(7);
            var requests = new Request[sequences];
            for (int i = 0; i < sequences; i++)
            {
                var p = new SamplingParams
                {
                    MaxTokens = maxTokens, IgnoreEos = true, Seed = (ulong)i, Temperature = 1f,
                    // Half constrained, half not, in the same batch; some with stop strings and penalties too.
                    Constraint = i % 2 == 0 ? grammar : null,
                    Stop = i % 4 == 0 ? ["#never-said#"] : [],
                    RepetitionPenalty = i % 3 == 0 ? 1.1f : 1f,
                };
                requests[i] = engine.AddRequest(TinyModels.RandomTokens(rng, 8 + i, model.Config.VocabSize), p);
            }
            int emitted = 0;
            void Drain()
            {
                foreach (var r in requests)
                    while (r.TryReadOutput(out var o)) emitted += o.TokenIds.Length;
            }

            long allocated = AllocationProbe.Measure(() => engine.Step(), measured, maxSteps: maxTokens - 8, between: Drain);

            Assert.True(engine.Scheduler.RunningCount == sequences, $"{engine.Scheduler.RunningCount} running; {allocated} bytes allocated");
            Assert.True(allocated == 0, $"{allocated} bytes allocated over {measured} engine steps with {sequences / 2} constrained sequences");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
