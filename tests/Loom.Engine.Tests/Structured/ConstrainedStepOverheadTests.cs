using System.Diagnostics;
using Loom.Engine.Sampling;
using Loom.Engine.Structured;
using Loom.Models;
using Xunit.Abstractions;

namespace Loom.Engine.Tests.Structured;

/// <summary>
/// Per-step time of 16 decoding sequences, unconstrained and constrained (any JSON objects one per line, every sequence), on the model
/// LOOM_BENCH_MODEL names (e.g. <c>loom create-model --shape tinyllama-1.1b --type q4_0</c>). A measurement, skipped
/// without the variable: <c>LOOM_BENCH_MODEL=/tmp/models/tl-Q4_0.gguf dotnet test --filter ConstrainedStepOverhead</c>.
/// </summary>
[Collection("structured-heavy")]
public class ConstrainedStepOverheadTests(ITestOutputHelper output)
{
    public sealed class BenchFactAttribute : FactAttribute
    {
        public BenchFactAttribute()
        {
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("LOOM_BENCH_MODEL"))) Skip = "set LOOM_BENCH_MODEL to a model file to measure";
        }
    }

    /// <summary>JSON objects one per line, without end, so no sequence finishes while measured.</summary>
    private static readonly Constraint Stream = Constraint.Grammar(JsonSchemaGrammar.JsonObjectGbnf(rootName: "obj") + "root ::= (obj \"\\n\")+\n");

    [BenchFact]
    public void SixteenSequences()
    {
        using var model = ModelLoader.Load(Environment.GetEnvironmentVariable("LOOM_BENCH_MODEL")!);
        int steps = int.TryParse(Environment.GetEnvironmentVariable("LOOM_BENCH_STEPS"), out var s) ? s : 24;
        foreach (var constrained in new[] { false, true, false, true })
        {
            using var engine = new LlmEngine(model, new EngineOptions { MaxNumSeqs = 16, MaxKvTokens = 16 * 512, KvCacheBytes = 2L << 30 });
            string? failure = null;
            engine.RequestFailed += (_, e) => failure ??= e.ToString();
            var rng = new Random(1);
            for (int i = 0; i < 16; i++)
            {
                var prompt = Enumerable.Range(0, 32).Select(_ => rng.Next(3, model.Config.VocabSize)).ToArray();
                engine.AddRequest(prompt, new SamplingParams
                {
                    Temperature = 1f, Seed = (ulong)i, MaxTokens = 400, IgnoreEos = true,
                    Constraint = constrained ? Stream : null,
                });
            }
            engine.Step(); // prefill
            for (int i = 0; i < 4; i++) engine.Step(); // warm
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++) engine.Step();
            double ms = sw.Elapsed.TotalMilliseconds / steps;
            output.WriteLine($"{(constrained ? "constrained  " : "unconstrained")}: {ms:F1} ms/step, {engine.Scheduler.RunningCount} running");
            Assert.True(failure is null, failure);
        }
    }
}
