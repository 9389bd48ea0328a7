using System.Diagnostics.Metrics;
using Loom.Server.Metrics;

namespace Loom.Server.Tests;

public sealed class PrometheusExporterTests
{
    [Fact]
    public void Prints_counters_gauges_and_cumulative_histograms_of_chosen_meters_only()
    {
        using var meter = new Meter("Test.Exporter");
        using var other = new Meter("Test.Other");
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m, meter));
        var counter = meter.CreateCounter<long>("app.items", "{item}", "Items seen");
        var hist = meter.CreateHistogram<double>("app.wait", "s", "Waits");
        int level = 7;
        meter.CreateObservableGauge("app.level", () => level);
        other.CreateCounter<long>("app.ignored").Add(5);

        counter.Add(2);
        counter.Add(3);
        hist.Record(0.003);
        hist.Record(0.5);
        hist.Record(100);
        var v = Prometheus.Parse(exporter.Scrape());
        Assert.Equal(5, v["app_items_total"]);
        Assert.Equal(7, v["app_level"]);
        level = 9;
        Assert.Equal(9, Prometheus.Parse(exporter.Scrape())["app_level"]);
        Assert.Equal(0, v["app_wait_seconds_bucket{le=\"0.001\"}"]);
        Assert.Equal(1, v["app_wait_seconds_bucket{le=\"0.005\"}"]);
        Assert.Equal(2, v["app_wait_seconds_bucket{le=\"0.5\"}"]);
        Assert.Equal(2, v["app_wait_seconds_bucket{le=\"80\"}"]);
        Assert.Equal(3, v["app_wait_seconds_bucket{le=\"+Inf\"}"]);
        Assert.Equal(3, v["app_wait_seconds_count"]);
        Assert.Equal(100.503, v["app_wait_seconds_sum"], 9);
        Assert.False(v.ContainsKey("app_ignored_total"));
        var text = exporter.Scrape();
        Assert.Contains("# TYPE app_items_total counter\n", text);
        Assert.Contains("# TYPE app_wait_seconds histogram\n", text);
        Assert.Contains("# HELP app_items_total Items seen\n", text);
    }
}
