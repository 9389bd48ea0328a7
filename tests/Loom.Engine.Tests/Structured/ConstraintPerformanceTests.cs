using System.Diagnostics;
using System.Text;
using Loom.Engine.Structured;
using Loom.Models.Formats.Gguf;
using Loom.Models.Tokenizers;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Engine.Tests.Structured;

/// <summary>
/// A 20-property schema on a real ~100k-token byte-level BPE vocabulary (deepseek-llm, the largest in
/// shared/models/vocab): masks computed on first visit equal masks computed ahead, and (with LOOM_BENCH_STRUCTURED=1)
/// the compile time, the first step's mask time and the per-step mask times, cold and warm:
/// <c>LOOM_BENCH_STRUCTURED=1 dotnet test tests/Loom.Engine.Tests -c Release --filter TwentyPropertySchemaCompileBenchmark --logger "console;verbosity=detailed"</c>.
/// </summary>
[Collection("structured-heavy")]
public class ConstraintPerformanceTests(ITestOutputHelper output)
{
    public sealed class StructuredBenchFactAttribute : FactAttribute
    {
        public StructuredBenchFactAttribute()
        {
            if (!SharedData.Available) Skip = SharedData.MissingMessage;
            else if (Environment.GetEnvironmentVariable("LOOM_BENCH_STRUCTURED") != "1") Skip = "set LOOM_BENCH_STRUCTURED=1 to measure";
        }
    }

    public static string TwentyPropertySchema()
    {
        var props = new StringBuilder();
        string[] kinds =
        [
            "{\"type\":\"string\"}", "{\"type\":\"integer\",\"minimum\":0,\"maximum\":1000}", "{\"type\":\"boolean\"}",
            "{\"type\":\"number\"}", "{\"enum\":[\"red\",\"green\",\"blue\"]}", "{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"maxItems\":5}",
            "{\"type\":\"string\",\"maxLength\":20}", "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"number\"},\"y\":{\"type\":\"number\"}},\"required\":[\"x\",\"y\"]}",
            "{\"type\":[\"string\",\"null\"]}", "{\"type\":\"string\",\"format\":\"date\"}",
        ];
        for (int i = 0; i < 20; i++)
        {
            if (i > 0) props.Append(',');
            props.Append($"\"field_{i}_{(i % 3 == 0 ? "name" : i % 3 == 1 ? "count" : "flag")}\":{kinds[i % kinds.Length]}");
        }
        var required = string.Join(",", Enumerable.Range(0, 20).Where(i => i % 4 != 3).Select(i => $"\"field_{i}_{(i % 3 == 0 ? "name" : i % 3 == 1 ? "count" : "flag")}\""));
        return $"{{\"type\":\"object\",\"properties\":{{{props}}},\"required\":[{required}],\"additionalProperties\":false}}";
    }

    private static TokenVocabulary DeepseekVocabulary()
    {
        using var gguf = GgufFile.Open(SharedData.Path("models/vocab/ggml-vocab-deepseek-llm.gguf"));
        var tokenizer = Tokenizer.FromGguf(gguf);
        return new TokenVocabulary(tokenizer, tokenizer.VocabSize);
    }

    /// <summary>Allowed non-EOS tokens of a mask, in id order.</summary>
    private static List<int> AllowedTokens(ulong[] mask, TokenVocabulary vocab)
    {
        var allowed = new List<int>();
        for (int id = 0; id < vocab.Size; id++)
            if ((mask[id >> 6] & (1UL << (id & 63))) != 0 && !vocab.EndOfGeneration.Contains(id)) allowed.Add(id);
        return allowed;
    }

    [SharedFact]
    public void MasksComputedOnFirstVisitEqualMasksComputedAhead()
    {
        var vocab = DeepseekVocabulary();
        var schema = Constraint.JsonSchema(TwentyPropertySchema());
        var lazy = ConstraintCompiler.CompileUncached(schema, vocab, Environment.ProcessorCount);
        Assert.Equal(0, lazy.Masks.Count); // nothing computed before a step asks: compiling is the automaton only
        var grammar = GrammarCompiler.Compile(GbnfParser.Parse(lazy.Gbnf), "json_schema");
        var eager = new CompiledConstraint(schema, lazy.Gbnf, grammar, vocab, TokenMaskCache.Build(grammar, vocab, Environment.ProcessorCount), TimeSpan.Zero);
        var a = lazy.NewMatcher();
        var b = eager.NewMatcher();
        var maskA = new ulong[(vocab.Size + 63) / 64];
        var maskB = new ulong[maskA.Length];
        var rng = new Random(3);
        for (int step = 0; step < 300 && !a.IsTerminated; step++)
        {
            a.FillMask(maskA);
            b.FillMask(maskB);
            Assert.True(maskA.AsSpan().SequenceEqual(maskB), $"masks differ at step {step}");
            var allowed = AllowedTokens(maskA, vocab);
            if (allowed.Count == 0) break;
            int pick = allowed[rng.Next(allowed.Count)];
            Assert.True(a.AcceptToken(pick));
            Assert.True(b.AcceptToken(pick));
        }
        Assert.InRange(lazy.Masks.Count, 1, eager.Masks.Count - 1);
    }

    [StructuredBenchFact]
    public void TwentyPropertySchemaCompileBenchmark()
    {
        var sw = Stopwatch.StartNew();
        var vocab = DeepseekVocabulary();
        output.WriteLine($"vocabulary: {vocab.Size} tokens, trie of {vocab.NodeCount} nodes, built in {sw.Elapsed.TotalMilliseconds:F0} ms (once per engine)");
        var schema = Constraint.JsonSchema(TwentyPropertySchema());
        var mask = new ulong[(vocab.Size + 63) / 64];
        // Warm the JIT on a small one first.
        ConstraintCompiler.CompileUncached(Constraint.Regex("[a-z]+"), vocab, 1).NewMatcher().FillMask(mask);
        ConstraintCompiler.CompileUncached(schema, vocab, 1).NewMatcher().FillMask(mask);

        const int runs = 15;
        var compileCpu = new List<double>();
        var compile = new List<double>();
        var automaton = new List<double>();
        var toAst = new List<double>();
        var firstStep = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            sw.Restart();
            var ast = GbnfParser.Parse(ConstraintCompiler.ToGbnf(schema));
            toAst.Add(sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            var grammar = GrammarCompiler.Compile(ast, "json_schema");
            automaton.Add(sw.Elapsed.TotalMilliseconds);
            double cpu = ThreadCpuMs();
            var compiled = ConstraintCompiler.CompileUncached(schema, vocab, Environment.ProcessorCount);
            compileCpu.Add(ThreadCpuMs() - cpu);
            compile.Add(compiled.CompileTime.TotalMilliseconds);
            var m = compiled.NewMatcher();
            long t0 = Stopwatch.GetTimestamp();
            m.FillMask(mask);
            firstStep.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        output.WriteLine($"compile (schema to GBNF, automaton; masks on first visit), {runs} runs: {Summary(compile)} ms wall, {Summary(compileCpu)} ms of the thread's CPU; of which schema to parsed GBNF {Summary(toAst)} ms, GBNF to automaton {Summary(automaton)} ms");
        output.WriteLine($"first step's mask (the root's first positions computed then): {Summary(firstStep)} ms");

        foreach (int threads in new[] { 1, Environment.ProcessorCount })
        {
            var all = new List<double>();
            var allCpu = new List<double>();
            long uncertain = 0;
            int positions = 0;
            for (int i = 0; i < 3; i++)
            {
                var grammar = GrammarCompiler.Compile(GbnfParser.Parse(ConstraintCompiler.ToGbnf(schema)), "json_schema");
                sw.Restart();
                double cpu = ThreadCpuMs();
                var masks = TokenMaskCache.Build(grammar, vocab, threads);
                allCpu.Add(ThreadCpuMs() - cpu);
                all.Add(sw.Elapsed.TotalMilliseconds);
                uncertain = masks.UncertainTotal;
                positions = masks.Count;
            }
            output.WriteLine($"every mask ahead (as before), {threads} thread(s): {Summary(all)} ms wall" + (threads == 1 ? $", {Summary(allCpu)} ms CPU" : "") + $"; {positions} positions with bytes, {uncertain} uncertain tokens in all");
        }

        // Per-step mask time along a generation of one valid instance (each step the allowed token that matches the
        // most of the rest of it, as a tokenizer would): cold (a fresh compile, so a step that reaches a position
        // first computes its mask) and then warm (the same constraint again).
        var target = Encoding.UTF8.GetBytes(Instance());
        var cached = ConstraintCompiler.CompileUncached(schema, vocab, Environment.ProcessorCount);
        foreach (var phase in new[] { "cold", "warm" })
        {
            var m = cached.NewMatcher();
            var times = new List<double>();
            var firstVisits = new List<double>();
            var firstVisitsCpu = new List<double>();
            int at = 0;
            while (at < target.Length)
            {
                int before = cached.Masks.Count;
                double cpu = ThreadCpuMs();
                long t0 = Stopwatch.GetTimestamp();
                m.FillMask(mask);
                double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                times.Add(us);
                if (cached.Masks.Count > before) { firstVisits.Add(us); firstVisitsCpu.Add(ThreadCpuMs() - cpu); }
                int pick = -1, best = 0;
                foreach (int id in AllowedTokens(mask, vocab))
                {
                    var b = vocab.Bytes(id);
                    if (b.Length > best && target.AsSpan(at).StartsWith(b)) { best = b.Length; pick = id; }
                }
                Assert.True(pick >= 0, $"no allowed token continues the instance at byte {at}");
                Assert.True(m.AcceptToken(pick));
                at += best;
            }
            Assert.True(m.IsAccepting);
            var sorted = times.Order().ToList();
            output.WriteLine($"{phase} generation of the {target.Length}-byte instance, mask per step over {times.Count} steps: median {sorted[sorted.Count / 2]:F0} µs, " +
                             $"p90 {sorted[sorted.Count * 9 / 10]:F0} µs, max {sorted[^1]:F0} µs, sum {times.Sum() / 1000:F1} ms; " +
                             $"{firstVisits.Count} steps computed new masks ({firstVisits.Sum() / 1000:F1} ms in all; CPU {firstVisitsCpu.Sum():F1} ms in all, " +
                             $"{(firstVisitsCpu.Count > 0 ? firstVisitsCpu.Max() : 0):F1} ms at most in one step), {cached.Masks.Count} masks computed now");
        }
    }

    /// <summary>A valid instance of <see cref="TwentyPropertySchema"/> with every property present.</summary>
    private static string Instance()
    {
        string[] values =
        [
            "\"a free text value\"", "42", "true", "3.25", "\"green\"", "[\"one\", \"two\"]", "\"short text value\"",
            "{\"x\": 1.5, \"y\": -2}", "null", "\"2024-05-06\"",
        ];
        var sb = new StringBuilder("{");
        for (int i = 0; i < 20; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append($"\"field_{i}_{(i % 3 == 0 ? "name" : i % 3 == 1 ? "count" : "flag")}\": {values[i % values.Length]}");
        }
        return sb.Append('}').ToString();
    }

    /// <summary>CPU time of this thread (Linux; 0 elsewhere): on a loaded machine, closer than wall time to what an idle one takes.</summary>
    private static double ThreadCpuMs()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        clock_gettime(3 /* CLOCK_THREAD_CPUTIME_ID */, out var ts);
        return ts.Seconds * 1e3 + ts.Nanoseconds / 1e6;
    }

    private struct Timespec
    {
        public long Seconds, Nanoseconds;
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int clock_gettime(int clock, out Timespec ts);

    private static string Summary(List<double> ms)
    {
        var s = ms.Order().ToList();
        return $"min {s[0]:F1}, median {s[s.Count / 2]:F1}, max {s[^1]:F1}";
    }
}
