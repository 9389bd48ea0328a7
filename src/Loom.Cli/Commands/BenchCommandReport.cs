using System.Globalization;
using Loom.Cli.BenchServe;
using Loom.Engine.Bench;
using ScottPlot;

namespace Loom.Cli.Commands;

/// <summary>
/// <c>loom bench --report</c>: the table as printed, the bandwidth probe's figures, and charts of each test's tokens/s
/// per thread count (mean and every repetition) and per repetition, on <see cref="BenchReport"/>'s page.
/// </summary>
internal static class BenchCommandReport
{
    public static string Html(string model, IReadOnlyList<string> table, BenchOptions options, IReadOnlyList<BenchResult> results)
    {
        var charts = new List<string>();
        foreach (var test in results.Select(r => r.Test).Distinct())
        {
            var rows = results.Where(r => r.Test == test).OrderBy(r => r.Threads).ToArray();
            var plot = new Plot();
            double[] threads = rows.Select(r => (double)r.Threads).ToArray();
            var mean = plot.Add.Scatter(threads, rows.Select(r => r.Mean).ToArray());
            mean.LegendText = "mean";
            mean.MarkerSize = 7;
            var samples = plot.Add.Scatter(
                rows.SelectMany(r => r.Samples.Select(_ => (double)r.Threads)).ToArray(),
                rows.SelectMany(r => r.Samples).ToArray());
            samples.LegendText = "repetitions";
            samples.LineWidth = 0;
            samples.MarkerSize = 4;
            TicksAt(plot, threads);
            charts.Add(BenchReport.Chart(plot, $"{test}: tokens/s by threads", "threads", "tokens/s"));
        }

        var byRepetition = new Plot();
        foreach (var r in results)
        {
            var line = byRepetition.Add.Scatter(Enumerable.Range(1, r.Samples.Length).Select(i => (double)i).ToArray(), r.Samples);
            line.LegendText = $"{r.Test}, {r.Threads} threads";
            line.MarkerSize = 5;
        }
        TicksAt(byRepetition, Enumerable.Range(1, options.Repetitions).Select(i => (double)i));
        charts.Add(BenchReport.Chart(byRepetition, "tokens/s per repetition", "repetition", "tokens/s"));

        var probed = results.Where(r => r.GBps is not null && r.ProbeGBps is not null).OrderBy(r => r.Threads).ToArray();
        if (probed.Length > 0)
        {
            var plot = new Plot();
            double[] threads = probed.Select(r => (double)r.Threads).ToArray();
            var tg = plot.Add.Scatter(threads, probed.Select(r => r.GBps!.Value).ToArray());
            tg.LegendText = "generation";
            tg.MarkerSize = 7;
            var probe = plot.Add.Scatter(threads, probed.Select(r => r.ProbeGBps!.Value).ToArray());
            probe.LegendText = "bandwidth probe";
            probe.MarkerSize = 7;
            TicksAt(plot, threads);
            charts.Add(BenchReport.Chart(plot, "Memory bandwidth", "threads", "GB/s"));
        }

        var notes = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture,
                $"{options.Repetitions} repetitions of each test after a warm-up; threads {string.Join(", ", options.Threads)}."),
        };
        notes.AddRange(probed.Select(r => string.Create(CultureInfo.InvariantCulture,
            $"Memory-bandwidth probe, threads {r.Threads}: {r.ProbeGBps:F2} GB/s; {r.Test} reads {r.BytesPerToken / 1e6:F1} MB per token and reaches {r.GBps:F2} GB/s ({r.PercentOfProbe:F1}% of the probe).")));
        return BenchReport.Page($"loom bench: {model}", string.Join('\n', table), notes, charts);
    }

    /// <summary>Ticks only at the whole numbers measured (thread counts, repetitions), not at 1.2, 1.4, ….</summary>
    private static void TicksAt(Plot plot, IEnumerable<double> xs)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (double x in xs.Distinct()) ticks.AddMajor(x, x.ToString(CultureInfo.InvariantCulture));
        plot.Axes.Bottom.TickGenerator = ticks;
    }
}
