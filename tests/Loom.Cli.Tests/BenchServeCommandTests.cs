using System.Text.Json;
using Loom.Cli.BenchServe;
using Loom.Engine;
using Loom.Models;
using Loom.Server;

namespace Loom.Cli.Tests;

public class BenchServeCommandTests
{
    // Wall-clock figures on a shared, loaded machine (two cores, load average near 9 while these were written): the
    // server keeps its schedule to the millisecond, but a thread that is late to wake, or a new connection, adds a few
    // milliseconds, and now and then a stall adds tens to everything in flight. Medians shrug off the stalls, so they
    // carry the tight bounds; a real bug (a missed chunk, a wrong divisor, the wrong clock) is off by ten or more.
    private const double ToleranceMs = 8;
    // The fake server sends nothing before its stopwatch says so, and the client stamps a request's start before it
    // leaves, so a measured time is never early; one millisecond of slack for the order of the two clock reads.
    private const double EarlyMs = 1;

    private static string Dataset(TempDir dir, params string[] prompts)
    {
        var path = dir.File("prompts.jsonl");
        File.WriteAllLines(path, prompts.Select(p => JsonSerializer.Serialize(new { prompt = p })));
        return path;
    }

    private static JsonElement RunJson(TempDir dir, params string[] args)
    {
        var json = dir.File("result.json");
        var (code, stdout, err) = CliRunner.Run(["bench", "serve", .. args, "--output-json", json]);
        Assert.True(code == 0, err);
        Assert.Contains("Serving Benchmark Result", stdout);
        return JsonDocument.Parse(File.ReadAllText(json)).RootElement.Clone();
    }

    [Fact]
    public async Task MeasuresTheServersKnownTimings()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        using var dir = new TempDir();
        const int tokens = 16, requests = 8, clients = 2;
        var r = RunJson(dir, "--backend", "vllm", "--base-url", server.BaseUrl.ToString(), "--endpoint", "/v1/completions",
            "--dataset-name", "custom", "--dataset-path", Dataset(dir, "fast"),
            "--num-prompts", $"{requests}", "--random-output-len", $"{tokens}", "--max-concurrency", $"{clients}");

        Assert.Equal(requests, r.GetProperty("completed").GetInt32());
        Assert.Equal(0, r.GetProperty("failed").GetInt32());
        Assert.Equal("fake-model", r.GetProperty("model_id").GetString());
        Assert.Equal(requests * tokens, r.GetProperty("total_output_tokens").GetInt64());
        Assert.Equal(requests * 7, r.GetProperty("total_input_tokens").GetInt64());
        Assert.InRange(r.GetProperty("median_ttft_ms").GetDouble(), 50 - EarlyMs, 50 + ToleranceMs);
        Assert.InRange(r.GetProperty("mean_ttft_ms").GetDouble(), 50 - EarlyMs, 50 + 2 * ToleranceMs);
        Assert.InRange(r.GetProperty("median_itl_ms").GetDouble(), 10 - ToleranceMs / 2, 10 + ToleranceMs / 2);
        // Means of TPOT and ITL span each stream's last chunk less its first over 15 gaps: a late first chunk shortens
        // the rest, and the server's absolute schedule keeps the last one on time.
        foreach (var key in new[] { "mean_itl_ms", "mean_tpot_ms", "median_tpot_ms" })
            Assert.InRange(r.GetProperty(key).GetDouble(), 10 - ToleranceMs / 4, 10 + ToleranceMs / 4);
        double e2el = 50 + 10 * (tokens - 1);
        Assert.InRange(r.GetProperty("median_e2el_ms").GetDouble(), e2el - EarlyMs, e2el + ToleranceMs);
        Assert.Equal(requests * (tokens - 1), r.GetProperty("itls").EnumerateArray().Sum(x => x.GetArrayLength()));

        // Two closed-loop clients run four requests back to back each: 4 × 200 ms, plus a request's round trip each.
        double duration = r.GetProperty("duration").GetDouble();
        Assert.InRange(duration, 4 * (e2el - EarlyMs) / 1000, 4 * (e2el + 2 * ToleranceMs) / 1000);
        Assert.Equal(requests / duration, r.GetProperty("request_throughput").GetDouble(), 1e-9);
        Assert.Equal(requests * tokens / duration, r.GetProperty("output_throughput").GetDouble(), 1e-9);
        Assert.Equal(requests * (tokens + 7) / duration, r.GetProperty("total_token_throughput").GetDouble(), 1e-9);
        Assert.Equal(JsonValueKind.Null, r.GetProperty("request_goodput").ValueKind);
        // The untimed test request, then the benchmark's.
        Assert.Equal(requests + 1, server.Requests);
    }

    [Fact]
    public async Task GoodputCountsExactlyTheRequestsInsideTheSlos()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        using var dir = new TempDir();
        // Ten lines, each sent once: five fast, three with a 250 ms first token, two with 40 ms gaps. The SLOs sit 100 ms
        // and 15 ms per token away from either side, far beyond any stall, so the count is exact.
        string[] prompts = [.. Enumerable.Repeat("fast", 5), .. Enumerable.Repeat("slow-first", 3), .. Enumerable.Repeat("slow-gaps", 2)];
        var r = RunJson(dir, "--base-url", server.BaseUrl.ToString(), "--dataset-path", Dataset(dir, prompts),
            "--num-prompts", "10", "--random-output-len", "6", "--goodput", "ttft:150", "tpot:25");

        Assert.Equal(10, r.GetProperty("completed").GetInt32());
        Assert.Equal(5, r.GetProperty("good_requests").GetInt32());
        double duration = r.GetProperty("duration").GetDouble();
        Assert.Equal(5 / duration, r.GetProperty("request_goodput").GetDouble(), 1e-9);
        Assert.Equal(10 / duration, r.GetProperty("request_throughput").GetDouble(), 1e-9);
        // All at once: the slowest request (250 + 5 × 10 ms) bounds the run.
        Assert.InRange(duration, 0.3 - EarlyMs / 1000, 0.3 + 6 * ToleranceMs / 1000);
        var ttfts = r.GetProperty("ttfts").EnumerateArray().Select(x => x.GetDouble() * 1000).Order().ToArray();
        Assert.InRange(ttfts[6], 50 - EarlyMs, 50 + 6 * ToleranceMs);
        Assert.All(ttfts[7..], t => Assert.InRange(t, 250 - EarlyMs, 250 + 6 * ToleranceMs));
    }

    [Fact]
    public void GoodputAppliesOnlyTheSlosGiven()
    {
        var settings = new ServeBenchSettings { BaseUrl = new Uri("http://127.0.0.1/"), Prompts = [] };
        RequestResult Req(double ttftMs, double e2elMs, int tokens) => new() { Success = true, TtftS = ttftMs / 1000, E2elS = e2elMs / 1000, OutputTokens = tokens };
        RequestResult[] requests = [Req(50, 200, 16), Req(150, 300, 16), Req(50, 500, 16), Req(50, 50, 1), new() { Error = "x" }];
        int Good(ServeBenchSettings s) => new ServeBenchResult("m", s, requests, 1, false).GoodRequests;
        Assert.Equal(3, Good(settings with { SloTtftMs = 100 }));
        Assert.Equal(3, Good(settings with { SloTpotMs = 20 }));       // TPOTs 10, 10, 30 ms; none for one token
        Assert.Equal(2, Good(settings with { SloTtftMs = 100, SloTpotMs = 20 }));
        Assert.Equal(2, Good(settings with { SloE2elMs = 200 }));
    }

    [Fact]
    public void PercentilesInterpolateLikeNumpy()
    {
        double[] v = [1, 2, 3, 4, 10];
        Assert.Equal(3, ServeBenchResult.Percentile(v, 50));
        Assert.Equal(7.6, ServeBenchResult.Percentile(v, 90), 1e-12);
        Assert.Equal(9.76, ServeBenchResult.Percentile(v, 99), 1e-12);
        Assert.Equal(0, ServeBenchResult.Percentile([], 99));
    }

    [Fact]
    public void PoissonArrivalsHaveTheRequestedRate()
    {
        var t = ServeBenchmark.ArrivalTimes(20_000, 50, poisson: true, seed: 1);
        Assert.Equal(20_000 / 50.0, t[^1], 20_000 / 50.0 * 0.03);
        Assert.Equal([0, 0.5, 1.0], ServeBenchmark.ArrivalTimes(3, 2, poisson: false, seed: 1));
        Assert.All(ServeBenchmark.ArrivalTimes(3, double.PositiveInfinity, true, 1), x => Assert.Equal(0, x));
        // Gamma gaps of shape k keep the mean 1/rate and have a squared coefficient of variation of 1/k.
        foreach (double k in new[] { 0.25, 1, 4 })
        {
            var times = ServeBenchmark.ArrivalTimes(40_001, 50, poisson: true, seed: 2, burstiness: k);
            var gaps = times.Zip(times.Skip(1), (a, b) => b - a).ToArray();
            double mean = gaps.Average(), cv2 = gaps.Select(g => (g - mean) * (g - mean)).Average() / (mean * mean);
            Assert.Equal(1 / 50.0, mean, 1 / 50.0 * 0.03);
            Assert.Equal(1 / k, cv2, 1 / k * 0.08);
        }
    }

    [Fact]
    public void SyntheticPromptsShareTheirPrefixAndHaveExactLengths()
    {
        var prompts = BenchPrompt.Random(4, inputLen: 10, outputLen: 5, prefixLen: 6, rangeRatio: 0, vocabSize: 260, seed: 3);
        var ids = prompts.Select(p => p.Prompt.AsArray().Select(x => (int)x!).ToArray()).ToArray();
        Assert.All(ids, p => Assert.Equal(16, p.Length));
        Assert.All(prompts, p => Assert.Equal((16, 5), (p.InputTokens!.Value, p.OutputTokens)));
        Assert.All(ids, p => Assert.Equal(ids[0][..6], p[..6]));
        Assert.NotEqual(ids[0][6..], ids[1][6..]);
        Assert.All(ids.SelectMany(x => x), t => Assert.InRange(t, 4, 259));
        var ranged = BenchPrompt.Random(200, 100, 50, 0, 0.5, 260, 3);
        Assert.All(ranged, p => { Assert.InRange(p.InputTokens!.Value, 50, 150); Assert.InRange(p.OutputTokens, 25, 75); });
        Assert.Equal(ids, BenchPrompt.Random(4, 10, 5, 6, 0, 260, 3).Select(p => p.Prompt.AsArray().Select(x => (int)x!).ToArray()).ToArray());
    }

    [Fact]
    public async Task FailedRequestsAreCountedWithTheServersMessage()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        using var dir = new TempDir();
        var json = dir.File("r.json");
        var path = dir.File("p.jsonl");
        File.WriteAllLines(path, ["{\"prompt\":\"fast\"}", "{\"prompt\":\"fail\"}", "{\"prompt\":\"fast\",\"output_len\":3}"]);
        // --seed picks the shuffle; this one puts a fast prompt first, where the untimed test request takes it.
        int seed = Enumerable.Range(0, 100).First(s => BenchPrompt.FromJsonl(path, 3, 4, s)[0].Prompt.ToString() == "fast");
        var (code, _, err) = CliRunner.Run("bench", "serve", "--base-url", server.BaseUrl.ToString(), "--dataset-path", path, "--num-prompts", "3",
            "--random-output-len", "4", "--seed", $"{seed}", "--output-json", json);
        Assert.True(code == 0, err);
        Assert.Contains("1 requests failed; the first: 400 this prompt always fails", err);
        var r = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.Equal(2, r.GetProperty("completed").GetInt32());
        Assert.Equal(1, r.GetProperty("failed").GetInt32());
        Assert.Equal(7, r.GetProperty("total_output_tokens").GetInt32());
        Assert.Equal("400 this prompt always fails", r.GetProperty("errors")[0].GetString());
    }

    [Fact]
    public async Task TheTimeLimitStopsTheRun()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        using var dir = new TempDir();
        // 1000 requests of 1000 tokens at 10 ms would take hours; --max-seconds 1 cancels them.
        var r = RunJson(dir, "--base-url", server.BaseUrl.ToString(), "--dataset-path", Dataset(dir, "fast"),
            "--num-prompts", "1000", "--random-output-len", "1000", "--max-concurrency", "4", "--max-seconds", "1");
        Assert.True(r.GetProperty("timed_out").GetBoolean());
        Assert.Equal(0, r.GetProperty("completed").GetInt32());
        Assert.Equal(0, r.GetProperty("failed").GetInt32());
        Assert.Equal(4, r.GetProperty("cancelled").GetInt32());
        Assert.InRange(r.GetProperty("duration").GetDouble(), 0.9, 3);
    }

    [Fact]
    public async Task BenchmarksTheRealLoomServer()
    {
        using var dir = new TempDir();
        await using var loom = await LoomOnTinyModel.StartAsync(dir);
        var server = loom.Server;

        var r = RunJson(dir, "--base-url", server.BaseAddress.ToString(), "--num-prompts", "6", "--random-input-len", "12",
            "--random-prefix-len", "4", "--random-output-len", "5", "--ignore-eos", "--max-concurrency", "3", "--slo-e2el-ms", "600000");
        Assert.Equal(6, r.GetProperty("completed").GetInt32());
        Assert.Equal(0, r.GetProperty("failed").GetInt32());
        Assert.Equal(6, r.GetProperty("good_requests").GetInt32());
        // ignore_eos: every request generates exactly max_tokens, counted by the server's usage.
        Assert.Equal(30, r.GetProperty("total_output_tokens").GetInt64());
        Assert.All(r.GetProperty("input_lens").EnumerateArray(), x => Assert.InRange(x.GetInt32(), 16, 17));
        Assert.True(r.GetProperty("median_ttft_ms").GetDouble() > 0);
        Assert.True(r.GetProperty("median_tpot_ms").GetDouble() > 0);
        // A chunk carries several tokens when the detokenizer holds back an incomplete UTF-8 sequence, so ITLs are per
        // chunk (as vLLM's are) and fewer than the tokens; TPOT divides by the usage count instead.
        Assert.InRange(r.GetProperty("itls").EnumerateArray().Sum(x => x.GetArrayLength()), 1, 6 * 4);
    }

    [Theory]
    [InlineData("--base-url http://example.com:8080", "--base-url example.com is not a loopback address; pass --allow-remote to benchmark another machine")]
    [InlineData("--base-url ftp://127.0.0.1/", "--base-url 'ftp://127.0.0.1/' is not an http or https URL")]
    [InlineData("--request-rate 0", "--request-rate must be a positive number or inf, not '0'")]
    [InlineData("--request-rate fast", "--request-rate must be a positive number or inf, not 'fast'")]
    [InlineData("--num-prompts 0", "--num-prompts must be between 1 and 1000000, not 0")]
    [InlineData("--max-concurrency 0", "--max-concurrency must be between 1 and 100000, not 0")]
    [InlineData("--slo-ttft-ms -5", "--slo-ttft-ms must be positive, not -5")]
    [InlineData("--random-range-ratio 1", "--random-range-ratio must be at least 0 and below 1, not 1")]
    [InlineData("--arrival bursty", "bursty")]
    [InlineData("--sweep 1,x", "--sweep: 'x' is not a positive number")]
    [InlineData("--sweep 1,2.5", "--sweep: concurrencies must be whole numbers from 1 to 100000, not '1,2.5'")]
    [InlineData("--sweep-over tokens", "tokens")]
    [InlineData("--burstiness 0", "--burstiness must be positive, not 0")]
    [InlineData("--arrival fixed --burstiness 2", "--burstiness shapes Poisson arrivals; leave it out with --arrival fixed")]
    [InlineData("--goodput ttft:100 tpot:x", "--goodput: 'tpot:x' is not ttft:MS, tpot:MS or e2el:MS with a positive MS")]
    [InlineData("--dataset-name custom", "--dataset-name custom needs --dataset-path")]
    [InlineData("--dataset-name sharegpt", "sharegpt")]
    [InlineData("--backend tgi", "tgi")]
    [InlineData("--endpoint v1/completions", "--endpoint must be a path such as /v1/completions, not 'v1/completions'")]
    [InlineData("--dataset-path /nonexistent/prompts.jsonl", "/nonexistent/prompts.jsonl")]
    [InlineData("--base-url http://127.0.0.1:1", "cannot reach http://127.0.0.1:1/")]
    public void BadArgumentsAreOneLine(string args, string message)
    {
        var (code, stdout, err) = CliRunner.Run(["bench", "serve", .. args.Split(' ')]);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("loom: ", lines[0]);
        Assert.Contains(message, lines[0]);
    }

    [Fact]
    public async Task ABadDatasetLineNamesItsLine()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        using var dir = new TempDir();
        var path = dir.File("bad.jsonl");
        File.WriteAllLines(path, ["{\"prompt\":\"fast\"}", "{\"text\":\"no prompt\"}"]);
        var (code, _, err) = CliRunner.Run("bench", "serve", "--base-url", server.BaseUrl.ToString(), "--dataset-path", path);
        Assert.Equal(1, code);
        Assert.Equal($"loom: {path}:2: expected an object with a \"prompt\" string or token-id array", err.Trim());
    }

    [Fact]
    public async Task SweepWritesOneResultPerPointAndAnHtmlReport()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        using var dir = new TempDir();
        string json = dir.File("sweep.json"), html = dir.File("sweep.html");
        var (code, stdout, err) = CliRunner.Run("bench", "serve", "--base-url", server.BaseUrl.ToString(), "--dataset-path", Dataset(dir, "fast"),
            "--num-prompts", "4", "--random-output-len", "4", "--sweep", "1,4", "--output-json", json, "--report", html);
        Assert.True(code == 0, err);
        Assert.Contains("| metric | c=1 | c=4 |", stdout);
        var points = JsonDocument.Parse(File.ReadAllText(json)).RootElement.EnumerateArray().ToArray();
        Assert.Equal([1, 4], points.Select(p => p.GetProperty("max_concurrency").GetInt32()));
        Assert.All(points, p => Assert.Equal(4, p.GetProperty("completed").GetInt32()));
        Assert.All(points, p => Assert.Equal("max_concurrency", p.GetProperty("sweep").GetString()));
        // One at a time takes four requests' time, four at once about one: the load really changed.
        Assert.True(points[0].GetProperty("duration").GetDouble() > 2.5 * points[1].GetProperty("duration").GetDouble());
        string page = File.ReadAllText(html);
        Assert.StartsWith("<!DOCTYPE html>", page);
        Assert.Equal(6, page.Split("src=\"data:image/png;base64,").Length - 1);
        Assert.DoesNotContain("http://", page.Replace(server.BaseUrl.ToString(), ""));   // self-contained

        // compare reads what serve wrote, sweeps and single runs alike.
        string single = dir.File("single.json");
        Assert.Equal(0, CliRunner.Run("bench", "serve", "--base-url", server.BaseUrl.ToString(), "--dataset-path", Dataset(dir, "fast"),
            "--num-prompts", "2", "--random-output-len", "4", "--max-concurrency", "2", "--output-json", single).Code);
        string cmpHtml = dir.File("cmp.html");
        (code, stdout, err) = CliRunner.Run("bench", "compare", json, single, "--report", cmpHtml);
        Assert.True(code == 0, err);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("| metric | sweep c=1 | sweep c=4 | single (c=2) |", lines[0]);
        Assert.Equal("| completed | 4 | 4 | 2 |", lines[2]);
        Assert.Contains(lines, l => l.StartsWith("| p99_ttft_ms |"));
        Assert.Equal(6, File.ReadAllText(cmpHtml).Split("data:image/png;base64,").Length - 1);
    }

    [Fact]
    public void CompareRefusesWhatServeDidNotWrite()
    {
        using var dir = new TempDir();
        var path = dir.File("other.json");
        File.WriteAllText(path, "{\"hello\": 1}");
        var (code, _, err) = CliRunner.Run("bench", "compare", path);
        Assert.Equal(1, code);
        Assert.Equal($"loom: {path}: expected the JSON that loom bench serve --output-json writes", err.Trim());
        (code, _, err) = CliRunner.Run("bench", "compare", dir.File("missing.json"));
        Assert.Equal(1, code);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("missing.json", err);
    }

    [Fact]
    public void ReportReadsLoadsBuiltInMemoryAndReadFromFiles()
    {
        var built = new System.Text.Json.Nodes.JsonObject { ["max_concurrency"] = 4, ["request_rate"] = "inf" };
        Assert.Equal(4, BenchReport.Load(built));
        Assert.Equal(4, BenchReport.Load(System.Text.Json.Nodes.JsonNode.Parse(built.ToJsonString())!.AsObject()));
        var rates = new System.Text.Json.Nodes.JsonObject { ["max_concurrency"] = 8, ["request_rate"] = 2.5, ["sweep"] = "request_rate" };
        Assert.Equal(2.5, BenchReport.Load(rates));
        Assert.Equal(2.5, BenchReport.Load(System.Text.Json.Nodes.JsonNode.Parse(rates.ToJsonString())!.AsObject()));
    }

    [Fact]
    public async Task NoTimedPromptIsServedFromThePrefixCache()
    {
        using var dir = new TempDir();
        await using var loom = await LoomOnTinyModel.StartAsync(dir);
        var (server, engine) = (loom.Server, loom.Engine);

        // Two sweep points of three requests, each point after its own test request: with the same prompts at every
        // point (or the test request reusing a timed prompt) whole 16-token blocks would come from the cache.
        string json = dir.File("sweep.json");
        var (code, _, err) = CliRunner.Run("bench", "serve", "--base-url", server.BaseAddress.ToString(), "--num-prompts", "3",
            "--random-input-len", "32", "--random-output-len", "2", "--ignore-eos", "--sweep", "2,2", "--output-json", json);
        Assert.True(code == 0, err);
        var points = JsonDocument.Parse(File.ReadAllText(json)).RootElement.EnumerateArray().ToArray();
        int promptLen = points[0].GetProperty("input_lens")[0].GetInt32();
        Assert.All(points.SelectMany(p => p.GetProperty("input_lens").EnumerateArray()), x => Assert.Equal(promptLen, x.GetInt32()));
        Assert.Equal(2 * (3 + 1) * promptLen, engine.Metrics.PromptTokens);
    }

    /// <summary>A real `loom serve` in-process on a tiny model made with `create-model`.</summary>
    private sealed class LoomOnTinyModel : IAsyncDisposable
    {
        private readonly LoadedModel _model;
        private LoomOnTinyModel(LoadedModel model, LlmEngine engine, LoomServer server) { _model = model; Engine = engine; Server = server; }

        public LlmEngine Engine { get; }
        public LoomServer Server { get; }

        public static async Task<LoomOnTinyModel> StartAsync(TempDir dir)
        {
            var path = dir.File("tiny.gguf");
            Assert.Equal(0, CliRunner.Run("create-model", "--shape", "tiny", "--type", "Q8_0", path).Code);
            var model = ModelLoader.Load(path);
            var engine = new LlmEngine(model, new EngineOptions { Threads = 1, MaxNumSeqs = 8 });
            var server = LoomServer.Create(engine, new LoomServerOptions { Port = 0 });
            await server.StartAsync();
            return new LoomOnTinyModel(model, engine, server);
        }

        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            Engine.Dispose();
            _model.Dispose();
        }
    }
}
