using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ScottPlot;

namespace Loom.Cli.BenchServe;

/// <summary>
/// Runs side by side, from their JSON results alone (so <c>bench compare</c> can read what any earlier run wrote): a
/// markdown table and a self-contained HTML page whose charts are PNGs drawn by ScottPlot and embedded as data URIs.
/// <see cref="Page"/> and <see cref="Chart"/> make the reports of <c>loom bench</c> and <c>bench throughput</c> too.
/// </summary>
internal static class BenchReport
{
    /// <summary>One series: a file or a sweep, its points in load order.</summary>
    public sealed record Run(string Label, IReadOnlyList<JsonObject> Points);

    private static readonly string[] TableKeys =
    [
        "completed", "failed", "duration", "request_throughput", "request_goodput", "output_throughput", "total_token_throughput",
        "median_ttft_ms", "p99_ttft_ms", "median_tpot_ms", "p99_tpot_ms", "median_itl_ms", "p99_itl_ms", "median_e2el_ms", "p99_e2el_ms",
    ];

    /// <summary>The point's load: what a sweep varied, else its concurrency, else its rate.</summary>
    public static double Load(JsonObject r)
    {
        if (r["sweep"]?.GetValue<string>() == "request_rate" && Number(r["request_rate"]) is double rate) return rate;
        return Number(r["max_concurrency"]) ?? Number(r["request_rate"]) ?? 0;
    }

    /// <summary>
    /// A number, whether the node was read from a file or built in memory: a built one holds an int or a double, and
    /// asking it for the other type fails.
    /// </summary>
    public static double? Number(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number
        ? double.Parse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture)
        : null;

    public static string LoadName(IEnumerable<Run> runs) =>
        runs.SelectMany(r => r.Points).All(p => p["sweep"]?.GetValue<string>() == "request_rate") ? "request rate (req/s)"
        : runs.SelectMany(r => r.Points).All(p => p["max_concurrency"] is not null) ? "concurrency" : "load";

    /// <summary>Reads a result file: one object, or the array a sweep writes.</summary>
    public static Run Read(string path)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (System.Text.Json.JsonException e) { throw new InvalidOperationException($"{path}: not JSON ({CliErrors.OneLine(e.Message)})"); }
        var points = node switch
        {
            JsonObject o => [o],
            JsonArray a when a.All(x => x is JsonObject) && a.Count > 0 => a.Select(x => (JsonObject)x!).ToList(),
            _ => throw new InvalidOperationException($"{path}: expected the JSON that loom bench serve --output-json writes"),
        };
        if (points.Any(p => p["completed"] is null || p["request_throughput"] is null))
            throw new InvalidOperationException($"{path}: expected the JSON that loom bench serve --output-json writes");
        return new Run(Path.GetFileNameWithoutExtension(path), points);
    }

    public static string MarkdownTable(IReadOnlyList<Run> runs)
    {
        var columns = runs.SelectMany(r => r.Points.Select(p => (Run: r, Point: p))).ToArray();
        var sb = new StringBuilder();
        sb.Append("| metric |");
        foreach (var (run, p) in columns) sb.Append(CultureInfo.InvariantCulture, $" {Header(run, p)} |");
        sb.AppendLine().Append("| --- |").Append(string.Concat(Enumerable.Repeat(" ---: |", columns.Length))).AppendLine();
        foreach (var key in TableKeys)
        {
            if (columns.All(c => c.Point[key] is null)) continue;
            sb.Append(CultureInfo.InvariantCulture, $"| {key} |");
            foreach (var (_, p) in columns) sb.Append(CultureInfo.InvariantCulture, $" {Format(p[key])} |");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    private static string Header(Run run, JsonObject p)
    {
        string load = p["max_concurrency"] is { } c && p["sweep"]?.GetValue<string>() != "request_rate" ? $"c={c}" : $"rate={p["request_rate"]}";
        return run.Points.Count == 1 && run.Label.Length > 0 ? $"{run.Label} ({load})" : run.Label.Length > 0 ? $"{run.Label} {load}" : load;
    }

    private static string Format(JsonNode? v) => Number(v) switch
    {
        null => v?.ToString() ?? "",
        double d when d == Math.Floor(d) && !v!.ToJsonString().Contains('.') => d.ToString("F0", CultureInfo.InvariantCulture),
        double d => d.ToString("F2", CultureInfo.InvariantCulture),
    };

    public static string Html(IReadOnlyList<Run> runs, string title)
    {
        string load = LoadName(runs);
        var charts = new List<string>();
        // Against load only when there is a curve to draw: a single run is one dot per chart.
        if (runs.Any(r => r.Points.Count > 1))
        {
            charts.Add(LineChart(runs, load, "Output throughput", "tokens/s", [("output_throughput", "")]));
            charts.Add(LineChart(runs, load, "Request throughput", "requests/s", [("request_throughput", "")]));
            charts.Add(LineChart(runs, load, "Time to first token", "ms", [("median_ttft_ms", "p50"), ("p99_ttft_ms", "p99")]));
            charts.Add(LineChart(runs, load, "Time per output token", "ms", [("median_tpot_ms", "p50"), ("p99_tpot_ms", "p99")]));
        }
        charts.Add(Cdf(runs, "TTFT distribution", "ttfts"));
        charts.Add(Cdf(runs, "End-to-end latency distribution", "e2els"));
        return Page(title, MarkdownTable(runs), [], charts);
    }

    /// <summary>
    /// A self-contained page (no scripts, nothing fetched): the title, <paramref name="markdownTable"/> as an HTML
    /// table, a paragraph per note, and the charts (from <see cref="Chart"/>).
    /// </summary>
    public static string Page(string title, string markdownTable, IEnumerable<string> notes, IEnumerable<string> charts)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(WebUtility.HtmlEncode(title)).Append("</title>\n");
        sb.Append("<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:14px}")
          .Append("td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}")
          .Append(".charts{display:flex;flex-wrap:wrap;gap:1em;margin-top:1.5em}.charts img{border:1px solid #eee}</style></head><body>\n");
        sb.Append("<h1>").Append(WebUtility.HtmlEncode(title)).Append("</h1>\n<table>\n");
        var table = markdownTable.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < table.Length; i++)
        {
            if (i == 1) continue;
            string tag = i == 0 ? "th" : "td";
            var cells = table[i].Trim().Trim('|').Split('|').Select(c => $"<{tag}>{WebUtility.HtmlEncode(c.Trim())}</{tag}>");
            sb.Append("<tr>").Append(string.Concat(cells)).Append("</tr>\n");
        }
        sb.Append("</table>\n");
        foreach (var note in notes) sb.Append("<p>").Append(WebUtility.HtmlEncode(note)).Append("</p>\n");
        sb.Append("<div class=\"charts\">\n");
        foreach (var chart in charts) sb.Append(chart).Append('\n');
        sb.Append("</div>\n</body></html>\n");
        return sb.ToString();
    }

    private const int Width = 560, Height = 380;

    private static string LineChart(IReadOnlyList<Run> runs, string load, string title, string unit, (string Key, string Name)[] series)
    {
        var plot = new Plot();
        foreach (var run in runs)
        {
            var points = run.Points.OrderBy(Load).ToArray();
            double[] xs = points.Select(Load).ToArray();
            foreach (var (key, name) in series)
            {
                double[] ys = points.Select(p => Number(p[key]) ?? double.NaN).ToArray();
                var line = plot.Add.Scatter(xs, ys);
                line.LegendText = string.Join(' ', new[] { run.Label, name }.Where(s => s.Length > 0));
                line.MarkerSize = 7;
            }
        }
        return Chart(plot, title, load, unit);
    }

    private static string Cdf(IReadOnlyList<Run> runs, string title, string key)
    {
        var plot = new Plot();
        foreach (var run in runs)
        {
            foreach (var p in run.Points.OrderBy(Load))
            {
                if (p[key] is not JsonArray samples || samples.Count == 0) continue;
                double[] xs = samples.Select(x => (Number(x) ?? 0) * 1000).Order().ToArray();
                double[] ys = Enumerable.Range(1, xs.Length).Select(i => (double)i / xs.Length).ToArray();
                var line = plot.Add.Scatter(xs, ys);
                line.ConnectStyle = ConnectStyle.StepHorizontal;
                line.MarkerSize = 0;
                line.LegendText = Header(run, p);
            }
        }
        return Chart(plot, title, "ms", "fraction of requests");
    }

    /// <summary>The plot as an <c>img</c> element with the PNG inline, titled and labelled.</summary>
    public static string Chart(Plot plot, string title, string x, string y)
    {
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        plot.ShowLegend();
        // PNG rather than SVG: the text is rendered here, so the page looks the same whatever fonts the reader has,
        // and each chart can be lifted out of the page as an image file.
        string png = Convert.ToBase64String(plot.GetImageBytes(Width, Height, ImageFormat.Png));
        return $"<img alt=\"{WebUtility.HtmlEncode(title)}\" width=\"{Width}\" height=\"{Height}\" src=\"data:image/png;base64,{png}\">";
    }
}
