using System.Globalization;
using System.Text.Json.Nodes;

namespace Loom.Cli.BenchServe;

/// <summary>
/// A run's requests and the figures vLLM reports from them, under vLLM's JSON keys: latencies in milliseconds,
/// percentiles with numpy's default (linear) interpolation, throughputs over the whole run.
/// </summary>
internal sealed class ServeBenchResult
{
    public static readonly string[] Metrics = ["ttft", "tpot", "itl", "e2el"];
    public static readonly (string Key, double P)[] Percentiles = [("median", 50), ("p90", 90), ("p99", 99)];

    public string Model { get; }
    public ServeBenchSettings Settings { get; }
    public IReadOnlyList<RequestResult> Requests { get; }
    public double DurationS { get; }
    public bool TimedOut { get; }

    public ServeBenchResult(string model, ServeBenchSettings settings, IReadOnlyList<RequestResult> requests, double durationS, bool timedOut)
    {
        (Model, Settings, Requests, DurationS, TimedOut) = (model, settings, requests, durationS, timedOut);
    }

    public IEnumerable<RequestResult> Succeeded => Requests.Where(r => r.Success);
    public int Completed => Succeeded.Count();
    public int Failed => Requests.Count(r => !r.Success && !r.Cancelled);
    public int Cancelled => Requests.Count(r => r.Cancelled);
    public long InputTokens => Succeeded.Sum(r => (long)r.PromptTokens);
    public long OutputTokens => Succeeded.Sum(r => (long)r.OutputTokens);

    /// <summary>The samples of one metric, in milliseconds: per request for TTFT, TPOT and E2EL, per gap for ITL.</summary>
    public double[] Samples(string metric) => Samples(Succeeded, metric);

    private static double[] Samples(IEnumerable<RequestResult> ok, string metric) => metric switch
    {
        "ttft" => ok.Select(r => r.TtftS * 1000).ToArray(),
        "tpot" => ok.Where(r => r.TpotS is not null).Select(r => r.TpotS!.Value * 1000).ToArray(),
        "itl" => ok.SelectMany(r => r.Itl).Select(x => x * 1000).ToArray(),
        "e2el" => ok.Select(r => r.E2elS * 1000).ToArray(),
        _ => throw new ArgumentOutOfRangeException(nameof(metric)),
    };

    /// <summary>
    /// Each latency metric's mean, standard deviation and percentiles (ms), then the per-request lists (s) that CDFs
    /// are drawn from, over completed requests: what any run reports under vLLM's keys, served or in-process.
    /// </summary>
    public static void AddLatencies(JsonObject o, IReadOnlyList<RequestResult> ok)
    {
        foreach (var m in Metrics)
        {
            var v = Samples(ok, m);
            o[$"mean_{m}_ms"] = v.Length == 0 ? 0 : v.Average();
            o[$"std_{m}_ms"] = Std(v);
            foreach (var (key, p) in Percentiles) o[$"{key}_{m}_ms"] = Percentile(v, p);
        }
        o["input_lens"] = new JsonArray(ok.Select(r => (JsonNode)r.PromptTokens).ToArray());
        o["output_lens"] = new JsonArray(ok.Select(r => (JsonNode)r.OutputTokens).ToArray());
        o["ttfts"] = new JsonArray(ok.Select(r => (JsonNode)r.TtftS).ToArray());
        o["e2els"] = new JsonArray(ok.Select(r => (JsonNode)r.E2elS).ToArray());
        o["itls"] = new JsonArray(ok.Select(r => (JsonNode)new JsonArray(r.Itl.Select(x => (JsonNode)x).ToArray())).ToArray());
    }

    public bool HasSlo => Settings.SloTtftMs is not null || Settings.SloTpotMs is not null || Settings.SloE2elMs is not null;

    /// <summary>Completed requests that meet every SLO given (a one-token request has no TPOT and meets that one).</summary>
    public int GoodRequests => Succeeded.Count(r =>
        (Settings.SloTtftMs is not double t || r.TtftS * 1000 <= t)
        && (Settings.SloTpotMs is not double p || (r.TpotS ?? 0) * 1000 <= p)
        && (Settings.SloE2elMs is not double e || r.E2elS * 1000 <= e));

    public static double Percentile(double[] values, double p)
    {
        if (values.Length == 0) return 0;
        var sorted = values.Order().ToArray();
        double rank = p / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    private static double Std(double[] v)
    {
        if (v.Length == 0) return 0;
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length);
    }

    public JsonObject ToJson()
    {
        var s = Settings;
        var ok = Succeeded.ToArray();
        var o = new JsonObject
        {
            ["date"] = DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture),
            ["backend"] = "openai",
            ["base_url"] = s.BaseUrl.ToString(),
            ["model_id"] = Model,
            ["num_prompts"] = s.Prompts.Count,
            ["request_rate"] = double.IsPositiveInfinity(s.RequestRate) ? "inf" : s.RequestRate,
            ["arrival"] = !double.IsPositiveInfinity(s.RequestRate) ? (s.Poisson ? "poisson" : "fixed") : s.MaxConcurrency is null ? "all-at-once" : "closed-loop",
            ["burstiness"] = s.Burstiness,
            ["max_concurrency"] = s.MaxConcurrency,
            ["ignore_eos"] = s.IgnoreEos,
            ["duration"] = DurationS,
            ["timed_out"] = TimedOut,
            ["completed"] = Completed,
            ["failed"] = Failed,
            ["cancelled"] = Cancelled,
            ["total_input_tokens"] = InputTokens,
            ["total_output_tokens"] = OutputTokens,
            ["request_throughput"] = Completed / DurationS,
            ["request_goodput"] = HasSlo ? GoodRequests / DurationS : null,
            ["output_throughput"] = OutputTokens / DurationS,
            ["total_token_throughput"] = (InputTokens + OutputTokens) / DurationS,
        };
        if (HasSlo)
        {
            o["slo_ttft_ms"] = s.SloTtftMs;
            o["slo_tpot_ms"] = s.SloTpotMs;
            o["slo_e2el_ms"] = s.SloE2elMs;
            o["good_requests"] = GoodRequests;
        }
        // Per-request lists in seconds, as vLLM writes them, so CDFs and other statistics can be drawn later.
        AddLatencies(o, ok);
        o["errors"] = new JsonArray(Requests.Where(r => !r.Success && !r.Cancelled).Select(r => (JsonNode)r.Error!).ToArray());
        return o;
    }

    /// <summary>vLLM's summary block, line for line where the figures are the same.</summary>
    public void WriteSummary(TextWriter w)
    {
        var inv = CultureInfo.InvariantCulture;
        void Line(string label, object value) => w.WriteLine(string.Format(inv, "{0,-40} {1,-10}", label, value is double d ? d.ToString("F2", inv) : value));
        w.WriteLine("{0}", Center(" Serving Benchmark Result ", 50, '='));
        Line("Successful requests:", Completed);
        Line("Failed requests:", Failed);
        if (Cancelled > 0 || TimedOut) Line("Cancelled at the time limit:", Cancelled);
        if (Settings.MaxConcurrency is int c) Line("Maximum request concurrency:", c);
        Line("Benchmark duration (s):", DurationS);
        Line("Total input tokens:", InputTokens);
        Line("Total generated tokens:", OutputTokens);
        Line("Request throughput (req/s):", Completed / DurationS);
        if (HasSlo) Line("Request goodput (req/s):", GoodRequests / DurationS);
        Line("Output token throughput (tok/s):", OutputTokens / DurationS);
        Line("Total Token throughput (tok/s):", (InputTokens + OutputTokens) / DurationS);
        foreach (var (m, title) in new[] { ("ttft", "Time to First Token"), ("tpot", "Time per Output Token (excl. 1st token)"), ("itl", "Inter-token Latency"), ("e2el", "End-to-end Latency") })
        {
            w.WriteLine(Center($"{title}", 50, '-'));
            var v = Samples(m);
            string name = m.ToUpperInvariant();
            Line($"Mean {name} (ms):", v.Length == 0 ? 0.0 : v.Average());
            Line($"Median {name} (ms):", Percentile(v, 50));
            Line($"P90 {name} (ms):", Percentile(v, 90));
            Line($"P99 {name} (ms):", Percentile(v, 99));
        }
        w.WriteLine(new string('=', 50));
    }

    private static string Center(string text, int width, char fill)
    {
        int pad = Math.Max(0, width - text.Length);
        return new string(fill, pad / 2) + text + new string(fill, pad - pad / 2);
    }
}
