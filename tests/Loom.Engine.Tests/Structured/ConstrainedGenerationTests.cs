using System.Text;
using System.Text.Json;
using Json.Schema;
using Loom.Engine.Sampling;
using Loom.Engine.Structured;
using Loom.Models;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Engine.Tests.Structured;

/// <summary>
/// The real small models (stories260K: SentencePiece with byte fallback; TinyStories-656K: a Hugging Face tokenizer)
/// sampling at temperature 1 with top-p 1 under each constraint of a suite, over many seeds: every output parses and
/// validates (JSON Schema through JsonSchema.Net, grammars through the reference Earley recognizer, regexes through
/// .NET's engine), alone and inside a batch of 16 mixed constrained and unconstrained requests, where the
/// unconstrained ones produce exactly what they produce alone.
/// </summary>
[Collection("structured-heavy")]
public class ConstrainedGenerationTests(ITestOutputHelper output)
{
    public const string Escapes = """
        {"type":"object","properties":{
          "text":{"type":"string","maxLength":10},
          "odd":{"type":"string","pattern":"^[é日😀\"\\\\\\n]{1,4}$"},
          "list":{"type":"array","items":{"enum":["a\"b","ü","\\"]},"minItems":1,"maxItems":3}
        },"required":["text","odd","list"],"additionalProperties":false}
        """;

    /// <summary>A constraint and its validator; an unbounded one (any JSON object) may run out of tokens, and is then checked as a prefix.</summary>
    public sealed record Case(string Name, Constraint Constraint, Func<string, bool> Valid, bool Bounded = true);

    public static readonly Case[] Suite =
    [
        SchemaCase("person", Schemas.Person),
        SchemaCase("tree", Schemas.Tree),
        SchemaCase("optionals", Schemas.Optionals.Replace("\"additionalProperties\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9}", "\"additionalProperties\":false")),
        SchemaCase("escapes", Escapes),
        new("json_object", Constraint.JsonObject(), t => { using var d = JsonDocument.Parse(t); return d.RootElement.ValueKind == JsonValueKind.Object; }, Bounded: false),
        GrammarCase("arithmetic", Grammars.Arithmetic),
        GrammarCase("program", Grammars.Program),
        new("regex", Constraint.Regex("[a-z]{2,8}(-[0-9]{1,3})?@(x|yz)\\.com"), t => System.Text.RegularExpressions.Regex.IsMatch(t, "^(?:[a-z]{2,8}(-[0-9]{1,3})?@(x|yz)\\.com)$")),
        new("choice", Constraint.Choice(["once", "upon", "a time", "the end"]), t => t is "once" or "upon" or "a time" or "the end"),
    ];

    /// <summary>For TinyStories-656K, whose 2048-token vocabulary has no braces or brackets (and no byte tokens): JSON cannot be written.</summary>
    public static readonly Case[] TextSuite =
    [
        new("regex", Constraint.Regex("[a-z]{2,8}(-[0-9]{1,3})?: (yes|no)[.!?]"), t => System.Text.RegularExpressions.Regex.IsMatch(t, "^(?:[a-z]{2,8}(-[0-9]{1,3})?: (yes|no)[.!?])$")),
        new("choice", Constraint.Choice(["once", "upon", "a time", "the end"]), t => t is "once" or "upon" or "a time" or "the end"),
        GrammarCase("sentence", "root ::= [A-Z] [a-z]{1,8} (\" \" word){1,6} [.!?]\nword ::= [a-z]{1,8} | \"\\\"\" [a-z]{1,8} \"\\\"\""),
        GrammarCase("numbers", "root ::= num (\", \" num){0,4} \";\"\nnum ::= \"-\"? [1-9] [0-9]{0,2}"),
    ];

    private static Case[] CasesFor(string model) => model == "stories260K" ? Suite : TextSuite;

    private static Case SchemaCase(string name, string schema)
    {
        var validator = JsonSchema.FromText(schema);
        return new(name, Constraint.JsonSchema(schema), t =>
        {
            using var doc = JsonDocument.Parse(t);
            return validator.Evaluate(doc.RootElement).IsValid;
        });
    }

    private static Case GrammarCase(string name, string gbnf)
    {
        var reference = new ReferenceRecognizer(gbnf);
        return new(name, Constraint.Grammar(gbnf), t => reference.Check(Encoding.UTF8.GetBytes(t)).Complete);
    }

    public static TheoryData<string> ModelPaths => new() { "stories260K", "tinystories-656k" };

    private static string ModelPath(string name) => name == "stories260K" ? RepoModels.Stories260K : RepoModels.TinyStories656K;

    private static SamplingParams Params(Constraint? c, int seed, int maxTokens = 400) => new()
    {
        Temperature = 1f, TopP = 1f, Seed = (ulong)seed, MaxTokens = maxTokens, Constraint = c,
    };

    private void Check(Case c, GenerationChoice choice, string what)
    {
        if (!c.Bounded && choice.FinishReason == FinishReason.Length) return; // its tokens were each allowed: a prefix
        Assert.True(choice.FinishReason == FinishReason.Stop, $"{what}: {c.Name} ended with {choice.FinishReason} ({choice.StopReason}) after {choice.TokenIds.Length} tokens: {choice.Text}");
        bool valid;
        try { valid = c.Valid(choice.Text); }
        catch (Exception e) { throw new Xunit.Sdk.XunitException($"{what}: {c.Name} output does not parse ({e.Message}): {choice.Text}"); }
        Assert.True(valid, $"{what}: {c.Name} output is not valid: {choice.Text}");
    }

    [Theory]
    [MemberData(nameof(ModelPaths))]
    public void EveryOutputValidatesAlone(string modelName)
    {
        using var model = ModelLoader.Load(ModelPath(modelName));
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 64 << 20, MaxKvTokens = 8192, MaxNumSeqs = 8, Threads = 1 });
        var prompt = model.Tokenizer.Encode("Once upon a time", addSpecial: true);
        int runs = 0;
        foreach (var c in CasesFor(modelName))
        {
            for (int seed = 0; seed < 8; seed++)
            {
                var result = engine.Generate([prompt], Params(c.Constraint, seed))[0];
                Check(c, result.Choices[0], $"seed {seed}");
                if (seed == 0) output.WriteLine($"{c.Name}: {result.Choices[0].Text.Replace("\n", "\\n")}");
                runs++;
            }
        }
        output.WriteLine($"{runs} constrained runs, every one valid");
    }

    /// <summary>
    /// Hundreds of seeded runs (24 per constraint, run side by side in one engine so that it stays quick): every
    /// output parses and validates, whatever the draw.
    /// </summary>
    [Theory]
    [MemberData(nameof(ModelPaths))]
    public void HundredsOfSeededRunsAllValidate(string modelName)
    {
        using var model = ModelLoader.Load(ModelPath(modelName));
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 128 << 20, MaxKvTokens = 32768, MaxNumSeqs = 32, Threads = 1 });
        var prompt = model.Tokenizer.Encode("Once upon a time", addSpecial: true);
        int runs = 0;
        foreach (var c in CasesFor(modelName))
        {
            var requests = new List<(Request R, int Seed)>();
            for (int seed = 1000; seed < 1024; seed++) requests.Add((engine.AddRequest(prompt, Params(c.Constraint, seed, maxTokens: 1000)), seed));
            while (engine.HasWork) engine.Step();
            foreach (var (r, seed) in requests)
            {
                Check(c, GenerationResult.CollectAsync(r).GetAwaiter().GetResult().Choices[0], $"seed {seed}");
                runs++;
            }
        }
        output.WriteLine($"{runs} seeded constrained runs, every one valid");
    }

    [Theory]
    [MemberData(nameof(ModelPaths))]
    public void EveryOutputValidatesInAMixedBatchOfSixteen(string modelName)
    {
        using var model = ModelLoader.Load(ModelPath(modelName));
        var options = new EngineOptions { KvCacheBytes = 64 << 20, MaxKvTokens = 16384, MaxNumSeqs = 16, Threads = 1 };
        var tok = model.Tokenizer;
        string[] texts = ["Once upon a time", "The little dog", "Lily and Ben", "One day"];
        for (int round = 0; round < 3; round++)
        {
            using var engine = new LlmEngine(model, options);
            var requests = new List<(Request R, Case? C, int[] Prompt, SamplingParams P)>();
            for (int i = 0; i < 16; i++)
            {
                var prompt = tok.Encode(texts[(i + round) % texts.Length], addSpecial: true);
                var cases = CasesFor(modelName);
                var c = i % 2 == 0 ? cases[(i / 2 + round * 3) % cases.Length] : null;
                var p = Params(c?.Constraint, seed: 100 * round + i, maxTokens: c is null ? 40 : 400);
                requests.Add((engine.AddRequest(prompt, p), c, prompt, p));
            }
            while (engine.HasWork) engine.Step();
            foreach (var (r, c, prompt, p) in requests)
            {
                var result = GenerationResult.CollectAsync(r).GetAwaiter().GetResult();
                if (c is not null) Check(c, result.Choices[0], $"round {round} in batch");
                else
                {
                    // Unconstrained neighbours are untouched by the masks: the same tokens as alone.
                    using var alone = new LlmEngine(model, options);
                    Assert.Equal(alone.Generate([prompt], p)[0].Choices[0].TokenIds, result.Choices[0].TokenIds);
                }
            }
        }
    }

    [Fact]
    public void ChoicesOfOneRequestForkWithTheirOwnState()
    {
        using var model = ModelLoader.Load(RepoModels.Stories260K);
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 64 << 20, MaxKvTokens = 8192, MaxNumSeqs = 8, Threads = 1 });
        var c = Suite.First(s => s.Name == "person");
        var prompt = model.Tokenizer.Encode("Once upon a time", addSpecial: true);
        var result = engine.Generate([prompt], Params(c.Constraint, 3) with { N = 6 })[0];
        Assert.Equal(6, result.Choices.Count);
        foreach (var choice in result.Choices) Check(c, choice, $"choice {choice.Index}");
        Assert.True(result.Choices.Select(x => x.Text).Distinct().Count() > 1);
    }

    [Fact]
    public void PreemptedSequencesResumeTheirConstraint()
    {
        using var model = ModelLoader.Load(RepoModels.Stories260K);
        // A cache far too small for eight long outputs: sequences are preempted and recomputed, keeping their state.
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 64 << 20, MaxKvTokens = 640, BlockSize = 16, MaxNumSeqs = 8, MaxNumBatchedTokens = 64, Threads = 1 });
        var c = Suite.First(s => s.Name == "program");
        var prompt = model.Tokenizer.Encode("Once upon a time", addSpecial: true);
        var requests = Enumerable.Range(0, 8).Select(i => engine.AddRequest(prompt, Params(c.Constraint, 50 + i, maxTokens: 300))).ToArray();
        while (engine.HasWork) engine.Step();
        Assert.True(engine.Scheduler.Preemptions > 0, "nothing was preempted");
        foreach (var r in requests)
        {
            var choice = GenerationResult.CollectAsync(r).GetAwaiter().GetResult().Choices[0];
            if (choice.FinishReason == FinishReason.Length) continue; // ran out of room: still a valid prefix
            Check(c, choice, "after preemption");
            // The state after the output tokens is the state the sequence kept.
            var m = engine.Constraints.Compile(c.Constraint).NewMatcher();
            foreach (int t in choice.TokenIds) Assert.True(m.AcceptToken(t));
        }
        output.WriteLine($"{engine.Scheduler.Preemptions} preemptions");
    }

    [Fact]
    public void StopStringsEndAConstrainedOutputEarly()
    {
        using var model = ModelLoader.Load(RepoModels.Stories260K);
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 64 << 20, MaxKvTokens = 8192, Threads = 1 });
        var prompt = model.Tokenizer.Encode("Once upon a time", addSpecial: true);
        var p = Params(Constraint.Grammar("root ::= \"ab\"{3} \"STOP\" [a-z]{5}"), 1) with { Stop = ["STOP"] };
        var choice = engine.Generate([prompt], p)[0].Choices[0];
        Assert.Equal(FinishReason.Stop, choice.FinishReason);
        Assert.Equal("ababab", choice.Text);
        Assert.Equal("STOP", choice.StopReason);
    }

    [Fact]
    public void PrefixCachedPromptsGiveTheSameConstrainedOutput()
    {
        using var model = ModelLoader.Load(RepoModels.Stories260K);
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 64 << 20, MaxKvTokens = 8192, Threads = 1, PrefixCaching = true });
        var prompt = model.Tokenizer.Encode("Once upon a time there was a little girl who liked to play in the park with her friends", addSpecial: true);
        var p = Params(Suite.First(s => s.Name == "tree").Constraint, 9);
        var first = engine.Generate([prompt], p)[0];
        var second = engine.Generate([prompt], p)[0];
        Assert.True(second.CachedPromptTokens > 0);
        Assert.Equal(first.Choices[0].TokenIds, second.Choices[0].TokenIds);
    }

    [Fact]
    public void BadConstraintsAreRefusedAtSubmission()
    {
        using var model = ModelLoader.Load(RepoModels.Stories260K);
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 64 << 20, MaxKvTokens = 8192, Threads = 1 });
        var e = Assert.Throws<ConstraintException>(() => engine.AddRequest([1, 2, 3], Params(Constraint.JsonSchema("{\"type\":\"string\",\"contentEncoding\":\"base64\"}"), 1)));
        Assert.Equal("contentEncoding", e.Keyword);
        Assert.Equal(0, engine.PendingRequests);
    }
}
