using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Loom.Cli.BenchServe;
using Loom.Models;

namespace Loom.Cli.Commands;

/// <summary>
/// <c>loom bench serve</c>: latency and throughput of any OpenAI-compatible server under load, with vLLM's
/// <c>bench serve</c> flags and result keys so that scripts written for one work with the other.
/// </summary>
internal static class BenchServeCommand
{
    public static Command Create()
    {
        var baseUrl = new Option<string>("--base-url") { Description = "Server to benchmark (loopback unless --allow-remote)", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var allowRemote = new Option<bool>("--allow-remote") { Description = "Allow a --base-url that is not a loopback address" };
        var model = new Option<string?>("--model") { Description = "Model name to send (default: the first of GET /v1/models)" };
        var apiKey = new Option<string?>("--api-key") { Description = "Bearer key (default: $OPENAI_API_KEY)" };
        var numPrompts = new Option<int>("--num-prompts") { Description = "Requests to send", DefaultValueFactory = _ => 100 }.InRange(1, 1_000_000);
        var rate = new Option<string>("--request-rate") { Description = "Requests per second, or inf to send all at once", DefaultValueFactory = _ => "inf" };
        rate.Validators.Add(r => { if (r.GetValueOrDefault<string>() is { } t && ParseRate(t) is null) r.AddError($"--request-rate must be a positive number or inf, not '{t}'"); });
        var arrival = new Option<string>("--arrival") { Description = "poisson: exponential gaps at --request-rate (vLLM's default); fixed: evenly spaced", DefaultValueFactory = _ => "poisson" };
        arrival.AcceptOnlyFromAmong("poisson", "fixed");
        var burstiness = new Option<double>("--burstiness") { Description = "vLLM's: gamma-distributed gaps of this shape; 1 is Poisson, lower burstier, higher more even", DefaultValueFactory = _ => 1 };
        burstiness.Validators.Add(r => { if (r.GetValueOrDefault<double>() is var v && !(v > 0 && double.IsFinite(v))) r.AddError($"--burstiness must be positive, not {v.ToString(CultureInfo.InvariantCulture)}"); });
        var goodput = new Option<string[]>("--goodput") { Description = "vLLM's form of the SLOs: ttft:MS tpot:MS e2el:MS", AllowMultipleArgumentsPerToken = true };
        goodput.Validators.Add(r =>
        {
            foreach (var item in r.GetValueOrDefault<string[]>() ?? [])
                if (ParseSlo(item) is null) { r.AddError($"--goodput: '{item}' is not ttft:MS, tpot:MS or e2el:MS with a positive MS"); return; }
        });
        var maxConcurrency = new Option<int?>("--max-concurrency") { Description = "Most requests in flight; with --request-rate inf, that many closed-loop clients" }.InRange(1, 100_000);
        var inputLen = new Option<int>("--random-input-len") { Description = "Prompt tokens per synthetic request, after the shared prefix", DefaultValueFactory = _ => 128 }.InRange(0, 1_000_000);
        var outputLen = new Option<int>("--random-output-len") { Description = "Tokens to generate per request (max_tokens)", DefaultValueFactory = _ => 128 }.InRange(1, 1_000_000);
        var prefixLen = new Option<int>("--random-prefix-len") { Description = "Prompt tokens every synthetic request shares, before its own", DefaultValueFactory = _ => 0 }.InRange(0, 1_000_000);
        var rangeRatio = new Option<double>("--random-range-ratio") { Description = "Input and output lengths uniform in [len·(1−r), len·(1+r)]", DefaultValueFactory = _ => 0 };
        var vocab = new Option<int>("--random-vocab-size") { Description = "Synthetic prompts use token ids in [4, this)", DefaultValueFactory = _ => 260 }.InRange(5);
        var dataset = new Option<string?>("--dataset-path") { Description = "JSONL of {\"prompt\": text or token ids, \"output_len\": n (optional)} instead of synthetic prompts" };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Send ignore_eos so that every request generates exactly its max_tokens" };
        var seed = new Option<int>("--seed") { Description = "Seed of the prompts and arrival times", DefaultValueFactory = _ => 0 };
        var maxSeconds = new Option<int>("--max-seconds") { Description = "Stop sending and cancel what is in flight after this long", DefaultValueFactory = _ => 600 }.InRange(1, 86_400);
        var sloTtft = new Option<double?>("--slo-ttft-ms") { Description = "Goodput SLO: time to first token at most this" };
        var sloTpot = new Option<double?>("--slo-tpot-ms") { Description = "Goodput SLO: time per output token at most this" };
        var sloE2el = new Option<double?>("--slo-e2el-ms") { Description = "Goodput SLO: end-to-end latency at most this" };
        foreach (var slo in new[] { sloTtft, sloTpot, sloE2el })
            slo.Validators.Add(r => { if (r.GetValueOrDefault<double?>() is double v && !(v > 0)) r.AddError($"{slo.Name} must be positive, not {v.ToString(CultureInfo.InvariantCulture)}"); });
        rangeRatio.Validators.Add(r => { if (r.GetValueOrDefault<double>() is var v && v is < 0 or >= 1) r.AddError($"--random-range-ratio must be at least 0 and below 1, not {v.ToString(CultureInfo.InvariantCulture)}"); });
        var outputJson = new Option<string?>("--output-json") { Description = "Write every figure, and the per-request samples, to this JSON file (an array with --sweep)" };
        // vLLM's scripts pass these; accepting the values that mean what this command does lets them run unchanged.
        var backend = new Option<string>("--backend") { Description = "openai or vllm: both are OpenAI-compatible streamed completions", DefaultValueFactory = _ => "openai" };
        backend.AcceptOnlyFromAmong("openai", "vllm");
        var endpoint = new Option<string>("--endpoint") { Description = "Completions path under --base-url", DefaultValueFactory = _ => "/v1/completions" };
        var datasetName = new Option<string?>("--dataset-name") { Description = "random (synthetic) or custom (--dataset-path); default: custom when --dataset-path is given" };
        datasetName.AcceptOnlyFromAmong("random", "custom");
        var sweep = new Option<string?>("--sweep") { Description = "Run once per value, e.g. 1,2,4,8: concurrencies, or rates with --sweep-over request-rate" };
        sweep.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is not { } t) return;
            foreach (var part in t.Split(',', StringSplitOptions.TrimEntries))
                if (ParseRate(part) is not double v || double.IsInfinity(v)) { r.AddError($"--sweep: '{part}' is not a positive number"); return; }
        });
        var sweepOver = new Option<string>("--sweep-over") { Description = "What --sweep varies", DefaultValueFactory = _ => "max-concurrency" };
        sweepOver.AcceptOnlyFromAmong("max-concurrency", "request-rate");
        var report = new Option<string?>("--report") { Description = "Write a self-contained HTML report with charts (throughput and latency against load, latency CDFs)" };

        var cmd = new Command("serve", "Benchmark an OpenAI-compatible server (loom serve, vLLM, llama-server): TTFT, TPOT, ITL, throughput, goodput")
        {
            baseUrl, allowRemote, model, apiKey, numPrompts, rate, arrival, maxConcurrency, inputLen, outputLen, prefixLen, rangeRatio, vocab,
            dataset, ignoreEos, seed, maxSeconds, sloTtft, sloTpot, sloE2el, outputJson, sweep, sweepOver, report,
            backend, endpoint, datasetName, burstiness, goodput,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(arrival) == "fixed" && parse.GetValue(burstiness) != 1)
                throw new ArgumentException("--burstiness shapes Poisson arrivals; leave it out with --arrival fixed");
            var slos = (parse.GetValue(goodput) ?? []).Select(x => ParseSlo(x)!.Value).ToArray();
            double? Slo(string key) => slos.LastOrDefault(x => x.Key == key).Ms is double ms && ms > 0 ? ms : null;
            var url = ServeBenchSettings.CheckBaseUrl(parse.GetValue(baseUrl)!, parse.GetValue(allowRemote));
            int n = parse.GetValue(numPrompts), s = parse.GetValue(seed);
            string? datasetPath = parse.GetValue(dataset);
            switch (parse.GetValue(datasetName))
            {
                case "custom" when datasetPath is null: throw new ArgumentException("--dataset-name custom needs --dataset-path");
                case "random" when datasetPath is not null: throw new ArgumentException("--dataset-path needs --dataset-name custom, or no --dataset-name");
            }
            string path = parse.GetValue(endpoint)!;
            if (!path.StartsWith('/') || !Uri.IsWellFormedUriString(path, UriKind.Relative))
                throw new ArgumentException($"--endpoint must be a path such as /v1/completions, not '{path}'");
            // Synthetic runs make one prompt more for the untimed test request, so that no timed prompt finds itself
            // already in the server's prefix cache.
            (BenchPrompt[] Timed, BenchPrompt? Test) MakePrompts(int seed)
            {
                if (datasetPath is not null) return (BenchPrompt.FromJsonl(datasetPath, n, parse.GetValue(outputLen), seed), null);
                var all = BenchPrompt.Random(n + 1, parse.GetValue(inputLen), parse.GetValue(outputLen), parse.GetValue(prefixLen), parse.GetValue(rangeRatio), parse.GetValue(vocab), seed);
                return (all[..n], all[n]);
            }
            var (prompts, testPrompt) = MakePrompts(s);
            var settings = new ServeBenchSettings
            {
                BaseUrl = url,
                Endpoint = path.TrimStart('/'),
                Model = parse.GetValue(model),
                ApiKey = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("OPENAI_API_KEY"),
                Prompts = prompts,
                TestPrompt = testPrompt,
                RequestRate = ParseRate(parse.GetValue(rate)!)!.Value,
                Poisson = parse.GetValue(arrival) == "poisson",
                Burstiness = parse.GetValue(burstiness),
                MaxConcurrency = parse.GetValue(maxConcurrency),
                IgnoreEos = parse.GetValue(ignoreEos),
                Seed = s,
                MaxDuration = TimeSpan.FromSeconds(parse.GetValue(maxSeconds)),
                SloTtftMs = parse.GetValue(sloTtft) ?? Slo("ttft"),
                SloTpotMs = parse.GetValue(sloTpot) ?? Slo("tpot"),
                SloE2elMs = parse.GetValue(sloE2el) ?? Slo("e2el"),
            };
            bool overRate = parse.GetValue(sweepOver) == "request-rate";
            if (!overRate && parse.GetValue(sweep) is { } values && values.Split(',').Any(v => ParseRate(v) is not double d || d != Math.Floor(d) || d > 100_000))
                throw new ArgumentException($"--sweep: concurrencies must be whole numbers from 1 to 100000, not '{values}'");
            // Each point of a sweep gets prompts of its own (seeds s, s+1, …): the same prompts again would find the
            // previous point's KV in a prefix-caching server and flatter every point after the first.
            var points = parse.GetValue(sweep) is { } list
                ? list.Split(',', StringSplitOptions.TrimEntries).Select(v => ParseRate(v)!.Value).Select((v, i) =>
                {
                    var (timed, test) = i == 0 ? (prompts, testPrompt) : MakePrompts(s + i);
                    var p = settings with { Prompts = timed, TestPrompt = test, Seed = s + i };
                    return overRate ? p with { RequestRate = v } : p with { MaxConcurrency = checked((int)v) };
                }).ToArray()
                : [settings];
            var runs = new List<JsonObject>();
            foreach (var point in points)
            {
                var result = await RunWithProgressAsync(parse, point, ct);
                if (points.Length > 1)
                    Console.Out.WriteLine(overRate ? $"request rate {point.RequestRate.ToString(CultureInfo.InvariantCulture)}/s:" : $"max concurrency {point.MaxConcurrency}:");
                result.WriteSummary(Console.Out);
                if (result.Failed > 0 && result.Requests.FirstOrDefault(r => !r.Success && !r.Cancelled)?.Error is { } first)
                    Console.Error.WriteLine($"loom: {result.Failed} requests failed; the first: {first}");
                var json = result.ToJson();
                if (points.Length > 1) json["sweep"] = overRate ? "request_rate" : "max_concurrency";
                runs.Add(json);
            }
            var all = new BenchReport.Run("", runs);
            if (points.Length > 1) Console.Out.Write(BenchReport.MarkdownTable([all]));
            if (parse.GetValue(outputJson) is { } file)
            {
                JsonNode written = points.Length > 1 ? new JsonArray(runs.Select(r => (JsonNode)r).ToArray()) : runs[0];
                await File.WriteAllTextAsync(file, written.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct);
            }
            if (parse.GetValue(report) is { } html)
                await File.WriteAllTextAsync(html, BenchReport.Html([all with { Label = runs[0]["model_id"]?.ToString() ?? "" }], $"loom bench serve: {settings.BaseUrl}"), ct);
            return 0;
        });
        return cmd;
    }

    private static (string Key, double Ms)? ParseSlo(string text)
    {
        var parts = text.Split(':', 2, StringSplitOptions.TrimEntries);
        return parts.Length == 2 && parts[0] is "ttft" or "tpot" or "e2el"
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double ms) && ms > 0 && double.IsFinite(ms)
            ? (parts[0], ms) : null;
    }

    internal static double? ParseRate(string text)
    {
        if (text.Trim().Equals("inf", StringComparison.OrdinalIgnoreCase)) return double.PositiveInfinity;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 && double.IsFinite(v) ? v : null;
    }

    /// <summary>The requests that have ended, as progress.</summary>
    private static Task<ServeBenchResult> RunWithProgressAsync(ParseResult parse, ServeBenchSettings settings, CancellationToken ct)
    {
        int total = settings.Prompts.Count;
        string title = settings.MaxConcurrency is int c ? $"requests (c={c})" : "requests";
        return CliProgress.RunAsync(parse, title, quiet: false, progress => ServeBenchmark.RunAsync(settings, (done, failed) =>
            progress.Report(new WorkProgress(done + failed, total, "requests", failed > 0 ? $"{failed} failed" : null)), ct));
    }
}
