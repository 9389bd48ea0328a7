using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Loom.Engine;
using Loom.Engine.Sampling;

namespace Loom.Cli.Commands;

/// <summary><c>loom run</c>: one prompt through the engine, text streamed as it is generated.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var model = ModelOptions.Model();
        var tokenizer = ModelOptions.Tokenizer();
        var threads = ModelOptions.Threads();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text", Required = true };
        var n = new Option<int>("--n-predict", "-n") { Description = "Most tokens to generate", DefaultValueFactory = _ => 128 }.InRange(1);
        var temp = new Option<float>("--temp") { Description = "Temperature (0 = greedy)", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 = off)", DefaultValueFactory = _ => 40 }.InRange(0);
        var topP = new Option<float>("--top-p") { Description = "Keep the smallest set with this much probability", DefaultValueFactory = _ => 0.95f };
        var minP = new Option<float>("--min-p") { Description = "Drop tokens below this fraction of the top probability", DefaultValueFactory = _ => 0.05f };
        var repeat = new Option<float>("--repeat-penalty") { Description = "Repetition penalty (1 = off)", DefaultValueFactory = _ => 1f };
        var seed = new Option<ulong?>("--seed", "-s") { Description = "Random seed (same seed, same output)" };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Keep generating past end-of-generation tokens" };
        var output = new Option<string>("--output", "-o") { Description = "text: stream the text; json: print one JSON object at the end", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "json");
        var grammarFile = new Option<FileInfo?>("--grammar-file") { Description = "Constrain the output to a GBNF grammar (llama.cpp's syntax, start rule 'root') read from this file" };
        var jsonSchema = new Option<string?>("--json-schema") { Description = "Constrain the output to JSON valid against this schema: inline JSON, or a file holding it" };
        var engineOptions = new EngineCliOptions();

        var cmd = new Command("run", "Generate a continuation of a prompt")
        {
            model, tokenizer, threads, prompt, n, temp, topK, topP, minP, repeat, seed, ignoreEos, output, grammarFile, jsonSchema,
        };
        engineOptions.AddTo(cmd);
        cmd.SetAction(async (parse, ct) =>
        {
            bool json = parse.GetValue(output) == "json";
            var p = new SamplingParams
            {
                Temperature = parse.GetValue(temp),
                TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP),
                MinP = parse.GetValue(minP),
                RepetitionPenalty = parse.GetValue(repeat),
                Seed = parse.GetValue(seed),
                MaxTokens = parse.GetValue(n),
                IgnoreEos = parse.GetValue(ignoreEos),
                Constraint = Constraint(parse.GetValue(grammarFile), parse.GetValue(jsonSchema)),
            };
            p.Validate();
            var options = engineOptions.Apply(parse, new EngineOptions { Threads = parse.GetValue(threads), MaxNumSeqs = 1 });
            using var loaded = ModelOptions.Load(parse, parse.GetValue(model)!, parse.GetValue(tokenizer), quiet: json);
            var promptIds = loaded.Tokenizer.Encode(parse.GetValue(prompt)!, addSpecial: true, parseSpecial: true);
            // One sequence never needs more KV than its prompt and its tokens, however long the model claims its context is.
            options = options with { MaxKvTokens = options.MaxKvTokens ?? (int)Math.Min(loaded.Config.ContextLength, (long)promptIds.Length + p.MaxTokens + 1) };
            using var engine = new LlmEngine(loaded, options);
            engine.Start();

            var sw = Stopwatch.StartNew();
            var request = engine.AddRequest(promptIds, p);
            var ids = new List<int>();
            var text = new StringBuilder();
            double firstToken = 0;
            FinishReason? finish = null;
            var stdout = Console.Out;
            await foreach (var o in request.Outputs(ct))
            {
                if (ids.Count == 0 && o.TokenIds.Length > 0) firstToken = sw.Elapsed.TotalSeconds;
                ids.AddRange(o.TokenIds.Span);
                text.Append(o.Delta);
                finish ??= o.FinishReason;
                if (!json && !o.Delta.IsEmpty) { stdout.Write(o.Delta.Span); stdout.Flush(); }
            }
            double total = sw.Elapsed.TotalSeconds;
            double genSeconds = total - firstToken;
            double promptTps = promptIds.Length / Math.Max(firstToken, 1e-9);
            double genTps = ids.Count > 1 ? (ids.Count - 1) / Math.Max(genSeconds, 1e-9) : 0;
            var m = engine.Metrics;
            object? speculative = options.Speculative is null ? null : new
            {
                method = options.Speculative.Method.ToString().ToLowerInvariant(),
                draft_sampling = options.Speculative.DraftSampling.ToString().ToLowerInvariant(),
                draft_tokens = m.SpeculativeDraftTokens,
                accepted_tokens = m.SpeculativeAcceptedTokens,
                acceptance_rate = m.SpeculativeAcceptanceRate,
                mean_accepted_length = m.SpeculativeMeanAcceptedLength,
            };
            if (json)
            {
                var result = new
                {
                    model = loaded.Name,
                    prompt_ids = promptIds,
                    generated_ids = ids,
                    text = text.ToString(),
                    finish_reason = finish?.ToString().ToLowerInvariant(),
                    timings = new
                    {
                        prompt_tokens = promptIds.Length,
                        prompt_seconds = firstToken,
                        prompt_tokens_per_second = promptTps,
                        generated_tokens = ids.Count,
                        generation_seconds = genSeconds,
                        generation_tokens_per_second = genTps,
                    },
                    speculative,
                };
                stdout.WriteLine(JsonSerializer.Serialize(result));
            }
            else
            {
                stdout.WriteLine();
                Console.Error.WriteLine($"prompt: {promptIds.Length} tokens, {promptTps:F1} tok/s | generation: {ids.Count} tokens, {genTps:F1} tok/s | finish: {finish?.ToString().ToLowerInvariant()}");
                if (options.Speculative is not null)
                    Console.Error.WriteLine($"speculative: {m.SpeculativeAcceptedTokens}/{m.SpeculativeDraftTokens} draft tokens accepted ({m.SpeculativeAcceptanceRate:P0}), mean accepted length {m.SpeculativeMeanAcceptedLength:F2}");
            }
            return 0;
        });
        return cmd;
    }

    /// <summary>The constraint <c>--grammar-file</c> or <c>--json-schema</c> asks for (at most one), or null.</summary>
    internal static Loom.Engine.Structured.Constraint? Constraint(FileInfo? grammarFile, string? jsonSchema)
    {
        if (grammarFile is not null && jsonSchema is not null)
            throw new ArgumentException("--grammar-file and --json-schema cannot be used together", "--json-schema");
        if (grammarFile is not null)
        {
            if (!grammarFile.Exists) throw new ArgumentException($"grammar file '{grammarFile.FullName}' does not exist", "--grammar-file");
            return Loom.Engine.Structured.Constraint.Grammar(File.ReadAllText(grammarFile.FullName));
        }
        if (jsonSchema is null) return null;
        string text = jsonSchema.TrimStart().StartsWith('{') ? jsonSchema
            : File.Exists(jsonSchema) ? File.ReadAllText(jsonSchema)
            : throw new ArgumentException($"--json-schema is neither inline JSON nor an existing file: '{jsonSchema}'", "--json-schema");
        return Loom.Engine.Structured.Constraint.JsonSchema(text);
    }
}
