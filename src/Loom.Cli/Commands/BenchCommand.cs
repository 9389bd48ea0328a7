using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Loom.Core.Kernels;
using Loom.Engine.Bench;
using Loom.Engine.Speculative;
using Loom.Models;
using Loom.Models.Quantize;

namespace Loom.Cli.Commands;

/// <summary><c>loom bench</c>: prompt-processing and text-generation speed, as llama-bench measures them.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = ModelOptions.Model();
        var tokenizer = ModelOptions.Tokenizer();
        var prompt = new Option<int>("--n-prompt", "-p") { Description = "Prompt tokens of the pp test (0 = skip)", DefaultValueFactory = _ => 512 }.InRange(0);
        var gen = new Option<int>("--n-gen", "-n") { Description = "Generated tokens of the tg test (0 = skip)", DefaultValueFactory = _ => 128 }.InRange(0);
        var threads = new Option<string>("--threads", "-t") { Description = "Comma-separated thread counts, e.g. 1,2,4 (default: all cores)" }.ListInRange(1, CliChecks.MaxThreads);
        var reps = new Option<int>("--repetitions", "-r") { Description = "Timed repetitions of each test", DefaultValueFactory = _ => 5 }.InRange(1);
        var probe = new Option<int>("--probe-mib") { Description = "Buffer of the memory-bandwidth probe in MiB (0 = skip the probe)", DefaultValueFactory = _ => 1024 }.InRange(0);
        var output = new Option<string>("--output", "-o") { Description = "table: a markdown table as llama-bench prints; json: one array of objects", DefaultValueFactory = _ => "table" };
        output.AcceptOnlyFromAmong("table", "json");
        var report = new Option<string?>("--report") { Description = "Write a self-contained HTML report: the table, and charts of tokens/s per thread count and per repetition" };
        var promptText = new Option<string?>("--prompt-text") { Description = "Speculative tg test: the prompt generation follows (default: -p random tokens, where n-gram lookup finds little)" };
        var promptFile = new Option<string?>("--prompt-file", "-f") { Description = "Speculative tg test: read the prompt from this file" };
        var engineOptions = new EngineCliOptions();

        var cmd = new Command("bench", "Measure prompt processing (pp) and text generation (tg) speed, like llama-bench; "
            + "with --speculative or --draft-model, tg runs greedy after a prompt, plain and speculating in alternation, then the cost of a pass over 1..k+1 tokens")
        {
            model, tokenizer, prompt, gen, threads, reps, probe, output, report, promptText, promptFile,
        };
        foreach (var o in engineOptions.SpeculativeAll) cmd.Options.Add(o);
        cmd.Subcommands.Add(BenchThroughputCommand.Create());
        cmd.Subcommands.Add(BenchServeCommand.Create());
        cmd.Subcommands.Add(BenchCompareCommand.Create());
        cmd.SetAction(parse =>
        {
            var options = new BenchOptions
            {
                PromptTokens = parse.GetValue(prompt),
                GenTokens = parse.GetValue(gen),
                Threads = ParseThreads(parse.GetValue(threads)),
                Repetitions = parse.GetValue(reps),
                ProbeBytes = (long)parse.GetValue(probe) << 20,
            };
            bool json = parse.GetValue(output) == "json";
            using var loaded = ModelOptions.Load(parse, parse.GetValue(model)!, parse.GetValue(tokenizer), quiet: json);
            options.Validate(loaded.Config.ContextLength);
            var info = ModelInfo.Of(loaded);
            var runner = new BenchRunner(loaded.Transformer);
            var speculative = engineOptions.ParseSpeculative(parse);
            string? text = parse.GetValue(promptFile) is { } file ? File.ReadAllText(file) : parse.GetValue(promptText);
            if (text is not null && speculative is null) throw new ArgumentException("--prompt-text and --prompt-file set the speculative tg test's prompt: give --speculative or --draft-model");
            int[] specPrompt = speculative is null ? []
                : text is not null ? loaded.Tokenizer.Encode(text, addSpecial: true, parseSpecial: false)
                : BenchThroughputCommand.MakePrompts(loaded, 1, Math.Max(1, options.PromptTokens), 0, 1234)[0];
            string[] header = speculative is null ? TableHeader : [TableHeader[0] + " speculative |", TableHeader[1] + " --- |"];
            var results = CliProgress.Run(parse, "bench", json, progress =>
            {
                if (!json) foreach (var line in header) progress.WriteLine(line);
                Action<BenchResult>? show = json ? null : r => progress.WriteLine(Row(info, r, speculative is not null));
                if (speculative is null) return runner.Run(options, show, progress);
                // pp as always; tg through the engines, after the prompt.
                var all = options.PromptTokens > 0 ? runner.Run(options with { GenTokens = 0 }, show, progress).ToList() : [];
                if (options.GenTokens > 0) all.AddRange(new SpeculativeBench(loaded).Run(options, specPrompt, speculative, show, progress));
                return all;
            });
            if (json) Console.Out.WriteLine(JsonSerializer.Serialize(results.Select(r => Json(info, options, r))));
            if (parse.GetValue(report) is { } html)
                File.WriteAllText(html, BenchCommandReport.Html(info.Name, [.. header, .. results.Select(r => Row(info, r, speculative is not null))], options, results));
            return 0;
        });
        return cmd;
    }

    // The kernels column stands where llama-bench prints its backend: which code path produced the figures.
    private static readonly string[] TableHeader =
    [
        "| model | size | params | type | kernels | threads | test | t/s | GB/s | % of probe |",
        "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ];

    private static string Row(ModelInfo info, BenchResult r, bool speculativeColumn = false)
    {
        string gbps = r.GBps is { } g ? g.ToString("F2", CultureInfo.InvariantCulture) : "";
        string pct = r.PercentOfProbe is { } p ? string.Create(CultureInfo.InvariantCulture, $"{p:F1}% of {r.ProbeGBps:F2}") : "";
        string row = string.Create(CultureInfo.InvariantCulture,
            $"| {info.Name} | {Size(info.Bytes)} | {Params(info.Params)} | {info.Type} | {KernelTier.Name} | {r.Threads} | {r.Test} | {r.Mean:F2} ± {r.StdDev:F2} | {gbps} | {pct} |");
        return speculativeColumn ? row + $" {SpeculativeCell(r)} |" : row;
    }

    /// <summary>The speculative column: the method with its acceptance, "plain" for its baseline, a pass's cost.</summary>
    private static string SpeculativeCell(BenchResult r) =>
        r.PassMs is { } ms ? string.Create(CultureInfo.InvariantCulture, $"{ms:F1} ms/pass")
        : r.Speculative is { } s ? string.Create(CultureInfo.InvariantCulture,
            $"{s}: {r.AcceptedTokens}/{r.DraftTokens} accepted ({r.AcceptanceRate * 100:F1}%), {r.MeanAcceptedLength:F2} tokens/step{(r.SameOutput == false ? ", OUTPUT DIFFERS" : "")}")
        : r.PromptTokens is not null ? "plain" : "";

    private static int[] ParseThreads(string? s)
    {
        if (string.IsNullOrWhiteSpace(s)) return [Environment.ProcessorCount];
        return CliChecks.ParseList(s);
    }

    private static object Json(ModelInfo m, BenchOptions o, BenchResult r) => new
    {
        model_filename = m.Path,
        model_name = m.Name,
        model_type = m.Type,
        model_size = m.Bytes,
        model_n_params = m.Params,
        n_threads = r.Threads,
        test = r.Test,
        n_prompt = r.Test.StartsWith("pp", StringComparison.Ordinal) ? r.Tokens : 0,
        n_gen = r.Test.StartsWith("tg", StringComparison.Ordinal) ? r.Tokens : 0,
        repetitions = o.Repetitions,
        avg_ts = r.Mean,
        stddev_ts = r.StdDev,
        samples_ts = r.Samples,
        bytes_per_token = r.BytesPerToken,
        tg_gbps = r.GBps,
        probe_gbps = r.ProbeGBps,
        percent_of_probe = r.PercentOfProbe,
        kernels = KernelTier.Name,
        n_depth = r.PromptTokens ?? 0,
        speculative = r.Speculative,
        draft_tokens = r.DraftTokens,
        accepted_tokens = r.AcceptedTokens,
        acceptance_rate = r.AcceptanceRate,
        mean_accepted_length = r.MeanAcceptedLength,
        same_output = r.SameOutput,
        pass_tokens = r.IsPass ? r.Tokens : 0,
        pass_ms = r.PassMs,
    };

    private static string Size(long bytes) => bytes >= 1L << 30
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F2} GiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F2} MiB");

    private static string Params(long n) => n >= 1_000_000_000 ? string.Create(CultureInfo.InvariantCulture, $"{n / 1e9:F2} B")
        : n >= 1_000_000 ? string.Create(CultureInfo.InvariantCulture, $"{n / 1e6:F2} M")
        : string.Create(CultureInfo.InvariantCulture, $"{n / 1e3:F2} K");

    /// <summary>The model columns of the table: name, bytes and parameters of its tensors, and its quantization.</summary>
    private sealed record ModelInfo(string Path, string Name, long Bytes, long Params, string Type)
    {
        public static ModelInfo Of(LoadedModel m)
        {
            var weights = m.Transformer.Weights.All().ToArray();
            string type = m.Metadata.TryGetValue("general.file_type", out var v) && v is IConvertible cv
                && LlamaFileTypes.FromValue(cv.ToInt64(CultureInfo.InvariantCulture)) is { } ft
                ? ft.ToString()
                : weights.Where(t => t.Shape.Length >= 2).GroupBy(t => t.Type).OrderByDescending(g => g.Sum(t => t.ByteSize)).First().Key.ToString();
            return new ModelInfo(m.Path, m.Name, weights.Sum(t => t.ByteSize), weights.Sum(t => t.ElementCount), type);
        }
    }
}
