using System.Diagnostics;
using System.Text;
using Loom.Engine.Structured;
using Loom.Models.Formats.Gguf;
using Loom.Models.Tokenizers;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Engine.Tests.Structured;

/// <summary>
/// Compile time and per-step mask time on a real ~100k-token byte-level BPE vocabulary (deepseek-llm, the largest in
/// shared/models/vocab), with a 20-property schema. Reports the numbers; asserts only generous ceilings.
/// </summary>
[Collection("structured-heavy")]
public class ConstraintPerformanceTests(ITestOutputHelper output)
{
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

    [SharedFact]
    public void TwentyPropertySchemaOnAHundredThousandTokenVocabulary()
    {
        using var gguf = GgufFile.Open(SharedData.Path("models/vocab/ggml-vocab-deepseek-llm.gguf"));
        var tokenizer = Tokenizer.FromGguf(gguf);
        var sw = Stopwatch.StartNew();
        var vocab = new TokenVocabulary(tokenizer, tokenizer.VocabSize);
        output.WriteLine($"vocabulary: {tokenizer.VocabSize} tokens, trie of {vocab.NodeCount} nodes, built in {sw.Elapsed.TotalMilliseconds:F0} ms (once per engine)");
        var schema = Constraint.JsonSchema(TwentyPropertySchema());
        // Warm the JIT on a small one first, then time.
        ConstraintCompiler.CompileUncached(Constraint.Regex("[a-z]+"), vocab, Environment.ProcessorCount);
        foreach (int threads in new[] { 1, 1, Environment.ProcessorCount, Environment.ProcessorCount })
        {
            sw.Restart();
            string gbnf = ConstraintCompiler.ToGbnf(schema);
            double toGbnf = sw.Elapsed.TotalMilliseconds;
            var grammar = GrammarCompiler.Compile(GbnfParser.Parse(gbnf), "json_schema");
            double automaton = sw.Elapsed.TotalMilliseconds - toGbnf;
            var masks = TokenMaskCache.Build(grammar, vocab, threads);
            double total = sw.Elapsed.TotalMilliseconds;
            output.WriteLine($"20-property schema, {threads} thread(s): {total:F1} ms (schema to GBNF {toGbnf:F1}, automaton {automaton:F1}, masks {total - toGbnf - automaton:F1}); {grammar.PositionCount} positions, {masks.UncertainTotal} uncertain tokens in all");
        }
        var compiled = ConstraintCompiler.CompileUncached(schema, vocab, Environment.ProcessorCount);
        Assert.True(compiled.CompileTime < TimeSpan.FromSeconds(5));

        // Per-step mask time along a random walk of allowed tokens.
        var m = compiled.NewMatcher();
        var mask = new ulong[(vocab.Size + 63) / 64];
        var rng = new Random(1);
        var times = new List<double>();
        var text = new List<byte>();
        for (int step = 0; step < 400 && !m.IsTerminated; step++)
        {
            long t0 = Stopwatch.GetTimestamp();
            m.FillMask(mask);
            times.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
            var allowed = new List<int>();
            for (int id = 0; id < vocab.Size; id++) if ((mask[id >> 6] & (1UL << (id & 63))) != 0 && !vocab.EndOfGeneration.Contains(id)) allowed.Add(id);
            if (allowed.Count == 0) break;
            int pick = allowed[rng.Next(allowed.Count)];
            Assert.True(m.AcceptToken(pick));
            text.AddRange(vocab.Bytes(pick).ToArray());
        }
        times.Sort();
        output.WriteLine($"mask per step over {times.Count} steps: median {times[times.Count / 2]:F0} µs, p90 {times[times.Count * 9 / 10]:F0} µs, max {times[^1]:F0} µs");
        output.WriteLine(Encoding.UTF8.GetString(text.ToArray())[..Math.Min(300, text.Count)]);
    }
}
