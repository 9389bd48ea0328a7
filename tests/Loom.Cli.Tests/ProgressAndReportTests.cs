using System.Text.Json;
using System.Text.RegularExpressions;

namespace Loom.Cli.Tests;

/// <summary>
/// Progress goes to stderr as plain lines when it is not a terminal (as under the test runner), never with JSON
/// output; <c>bench</c> and <c>bench throughput</c> write self-contained HTML reports.
/// </summary>
public partial class ProgressAndReportTests
{
    [GeneratedRegex(@"^[\w .-]+: \d{1,3}% \(\d+(\.\d)?/\d+(\.\d)? \w+, .+\)$")]
    private static partial Regex PlainLine();

    private static string TinyModel(TempDir dir, string type = "Q8_0")
    {
        var path = dir.File("tiny.gguf");
        var (code, _, err) = CliRunner.Run("create-model", "--shape", "tiny", "--type", type, path);
        Assert.True(code == 0, err);
        return path;
    }

    private static string[] ProgressLines(string stderr, string title) =>
        stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith(title + ":", StringComparison.Ordinal)).ToArray();

    [Fact]
    public void RedirectedOutputGetsPlainProgressLines()
    {
        using var dir = new TempDir();
        var (code, stdout, err) = CliRunner.Run("create-model", "--shape", "tiny", "--type", "Q4_0", dir.File("t.gguf"), "--progress", "plain");
        Assert.True(code == 0, err);
        Assert.Equal("", stdout);
        Assert.DoesNotContain('\x1b', err); // no terminal control sequences in a log
        var lines = ProgressLines(err, "writing t.gguf");
        Assert.InRange(lines.Length, 2, 10); // a line per tenth at most, not one per tensor
        Assert.All(lines, l => Assert.Matches(PlainLine(), l));
        Assert.StartsWith("writing t.gguf: 100% (", lines[^1]);

        (code, stdout, err) = CliRunner.Run("run", "-m", dir.File("t.gguf"), "-p", "a", "-n", "2", "--progress", "plain");
        Assert.True(code == 0, err);
        Assert.StartsWith("loading t.gguf: 100% (", ProgressLines(err, "loading t.gguf")[^1]);
        Assert.DoesNotContain("loading", stdout);
    }

    [Fact]
    public void QuickWorkLeavesNoLinesUnlessAsked()
    {
        // Under the test runner stderr is redirected: automatic lines wait for work that takes a while.
        using var dir = new TempDir();
        var (code, _, err) = CliRunner.Run("create-model", "--shape", "tiny", "--type", "Q4_0", dir.File("t.gguf"));
        Assert.True(code == 0, err);
        Assert.Empty(ProgressLines(err, "writing t.gguf"));
    }

    [Fact]
    public void JsonOutputStaysPureAndStderrQuiet()
    {
        using var dir = new TempDir();
        string model = TinyModel(dir);
        foreach (var args in new[]
        {
            new[] { "bench", "-m", model, "-p", "8", "-n", "4", "-t", "1", "-r", "1", "--probe-mib", "4" },
            ["bench", "throughput", "-m", model, "--num-prompts", "2", "--input-len", "8", "--output-len", "4"],
            ["run", "-m", model, "-p", "a", "-n", "2"],
        })
        {
            var (code, stdout, err) = CliRunner.Run([.. args, "--output", "json", "--progress", "plain"]);
            Assert.True(code == 0, err);
            using var _ = JsonDocument.Parse(stdout);
            Assert.DoesNotContain("%", err);
        }
    }

    private static void AssertSelfContainedReport(string path, int charts)
    {
        string page = File.ReadAllText(path);
        Assert.StartsWith("<!DOCTYPE html>", page);
        Assert.DoesNotContain("http://", page);
        Assert.DoesNotContain("https://", page);
        Assert.DoesNotContain("<script", page);
        Assert.Equal(charts, page.Split("src=\"data:image/png;base64,").Length - 1);
    }

    [Fact]
    public void BenchWritesAReportWithTheTableAndCharts()
    {
        using var dir = new TempDir();
        string html = dir.File("bench.html");
        var (code, stdout, err) = CliRunner.Run("bench", "-m", TinyModel(dir), "-p", "8", "-n", "4", "-t", "1,2", "-r", "2", "--probe-mib", "4", "--report", html);
        Assert.True(code == 0, err);
        Assert.Equal(6, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // the table still prints
        // pp8 and tg4 by threads, tokens/s per repetition, bandwidth against the probe.
        AssertSelfContainedReport(html, 4);
        string page = File.ReadAllText(html);
        Assert.Contains("<td>pp8</td>", page);
        Assert.Contains("<td>tg4</td>", page);
        Assert.Contains("Memory-bandwidth probe, threads 2:", page);
        Assert.Contains("alt=\"tokens/s per repetition\"", page);
    }

    [Fact]
    public void BenchThroughputWritesAReportWithItsFiguresAndLatencyDistributions()
    {
        using var dir = new TempDir();
        string html = dir.File("tp.html");
        var (code, _, err) = CliRunner.Run("bench", "throughput", "-m", TinyModel(dir), "--num-prompts", "4", "--input-len", "8", "--output-len", "4", "--report", html);
        Assert.True(code == 0, err);
        AssertSelfContainedReport(html, 2);
        string page = File.ReadAllText(html);
        foreach (var key in new[] { "request_throughput", "output_throughput", "median_ttft_ms", "p99_tpot_ms", "median_e2el_ms" })
            Assert.Contains($"<td>{key}</td>", page);
        Assert.Contains("alt=\"TTFT distribution\"", page);
    }
}
