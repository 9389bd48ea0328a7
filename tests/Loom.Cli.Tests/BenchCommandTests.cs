using System.Text.Json;

namespace Loom.Cli.Tests;

public class BenchCommandTests
{
    private static string TinyModel(TempDir dir)
    {
        var path = dir.File("tiny.gguf");
        Assert.Equal(0, CliRunner.Run("create-model", "--shape", "tiny", "--type", "Q8_0", path).Code);
        return path;
    }

    [Fact]
    public void JsonHasEveryFigureForEachThreadCountAndTest()
    {
        using var dir = new TempDir();
        var (code, stdout, err) = CliRunner.Run("bench", "-m", TinyModel(dir), "-p", "16", "-n", "8", "-t", "1,2", "-r", "2", "--probe-mib", "8", "--output", "json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        var rows = doc.RootElement.EnumerateArray().ToArray();
        Assert.Equal(["pp16/1", "tg8/1", "pp16/2", "tg8/2"], rows.Select(r => $"{r.GetProperty("test").GetString()}/{r.GetProperty("n_threads").GetInt32()}"));
        foreach (var r in rows)
        {
            var samples = r.GetProperty("samples_ts").EnumerateArray().Select(s => s.GetDouble()).ToArray();
            Assert.Equal(2, samples.Length);
            Assert.All(samples, s => Assert.True(s > 0));
            Assert.Equal(samples.Average(), r.GetProperty("avg_ts").GetDouble(), 1e-9);
            Assert.True(r.GetProperty("stddev_ts").GetDouble() >= 0);
            Assert.True(r.GetProperty("model_size").GetInt64() > 0);
            Assert.Equal("Q8_0", r.GetProperty("model_type").GetString());
            Assert.Equal(Loom.Core.Kernels.KernelTier.Name, r.GetProperty("kernels").GetString());
            bool tg = r.GetProperty("test").GetString()!.StartsWith("tg");
            Assert.Equal(tg ? 8 : 0, r.GetProperty("n_gen").GetInt32());
            Assert.Equal(tg ? 0 : 16, r.GetProperty("n_prompt").GetInt32());
            if (tg)
            {
                double bytes = r.GetProperty("bytes_per_token").GetDouble();
                Assert.True(bytes > r.GetProperty("model_size").GetInt64() * 0.5, $"{bytes} bytes per token");
                Assert.Equal(bytes * r.GetProperty("avg_ts").GetDouble() / 1e9, r.GetProperty("tg_gbps").GetDouble(), 1e-9);
                Assert.True(r.GetProperty("probe_gbps").GetDouble() > 0);
                Assert.Equal(r.GetProperty("tg_gbps").GetDouble() / r.GetProperty("probe_gbps").GetDouble() * 100, r.GetProperty("percent_of_probe").GetDouble(), 1e-9);
            }
            else Assert.Equal(JsonValueKind.Null, r.GetProperty("tg_gbps").ValueKind);
        }
    }

    [Fact]
    public void TablePrintsLlamaBenchColumns()
    {
        using var dir = new TempDir();
        var (code, stdout, err) = CliRunner.Run("bench", "-m", TinyModel(dir), "-p", "8", "-n", "4", "-t", "1", "-r", "1", "--probe-mib", "4");
        Assert.True(code == 0, err);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.Equal("| model | size | params | type | kernels | threads | test | t/s | GB/s | % of probe |", lines[0]);
        Assert.Contains("| tiny | 0.14 MiB |", lines[2]);
        Assert.Contains($"| {Loom.Core.Kernels.KernelTier.Name} | 1 | pp8 |", lines[2]);
        Assert.Contains("| pp8 |", lines[2]);
        Assert.Contains("| tg4 |", lines[3]);
        Assert.Matches(@"\| \d+\.\d% of \d+\.\d\d \|$", lines[3]);
    }

    [Theory]
    [InlineData("-t", "0")]
    [InlineData("-t", "1,x")]
    [InlineData("-p", "0", "-n", "0")]
    [InlineData("-p", "100000")]
    [InlineData("-r", "0")]
    public void BadArgumentsGiveOneLineErrors(params string[] extra)
    {
        using var dir = new TempDir();
        var (code, stdout, err) = CliRunner.Run(["bench", "-m", TinyModel(dir), "--probe-mib", "4", .. extra]);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("loom: ", err);
    }
}
