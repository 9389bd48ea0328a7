using System.Diagnostics;
using Loom.Models.Formats.Gguf;

namespace Loom.Cli.Tests;

/// <summary>Every failure, from a bad argument to a bad file to a bug, is one line on stderr and exit code 1.</summary>
public class ErrorHandlingTests
{
    private static string TinyModel(TempDir dir, string name = "tiny.gguf")
    {
        var path = dir.File(name);
        Assert.Equal(0, CliRunner.Run("create-model", "--shape", "tiny", "--type", "F16", path).Code);
        return path;
    }

    /// <summary>A copy of <paramref name="source"/> with one metadata value replaced.</summary>
    private static string WithMetadata(string source, string target, string key, object value)
    {
        using var f = GgufFile.Open(source);
        var w = new GgufWriter();
        foreach (var (k, v) in f.Metadata) w.Add(k, k == key ? value : v);
        foreach (var t in f.Tensors) w.AddTensor(t.Name, t.Type, t.Shape, f.GetTensor(t.Name).Bytes.ToArray());
        w.Write(target);
        return target;
    }

    private static void AssertOneLineFailure((int Code, string Out, string Err) r, string expected)
    {
        Assert.True(r.Code == 1, $"exit {r.Code}: {r.Err}");
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"stderr is not one line:\n{r.Err}");
        Assert.StartsWith("loom: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("   at ", r.Err);
    }

    private static readonly string T = Loom.Cli.Commands.CliChecks.MaxThreads.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static TheoryData<string[], string> BadArguments() => new()
    {
        { ["run", "-m", "M", "-p", "x", "-t", "0"], "--threads must be between 1 and " + T + ", not 0" },
        { ["run", "-m", "M", "-p", "x", "-t", "-3"], "--threads must be between 1 and " + T + ", not -3" },
        { ["run", "-m", "M", "-p", "x", "-t", "1025"], "--threads must be between 1 and " + T + ", not 1025" },
        { ["run", "-m", "M", "-p", "x", "-t", "1000"], "--threads must be between 1 and " + T + ", not 1000" },
        { ["run", "-m", "M", "-p", "x", "-t", "abc"], "'abc'" },
        { ["run", "-m", "M", "-p", "x", "-n", "-5"], "--n-predict must be at least 1, not -5" },
        { ["run", "-m", "M", "-p", "x", "--top-k", "-1"], "--top-k must be at least 0, not -1" },
        { ["run", "-m", "M", "-p", "x", "--top-p", "2"], "top_p must be in (0, 1]" },
        { ["run", "-m", "M", "-p", "x", "--max-num-seqs", "0"], "--max-num-seqs must be at least 1, not 0" },
        { ["serve", "-m", "M", "-t", "0"], "--threads must be between 1 and " + T + ", not 0" },
        { ["serve", "-m", "M", "--port", "70000"], "--port must be between 0 and 65535, not 70000" },
        { ["serve", "-m", "M", "--max-waiting", "-1"], "--max-waiting must be at least 0, not -1" },
        { ["bench", "-m", "M", "-t", "1,0"], "--threads must be between 1 and " + T + ", not 0" },
        { ["bench", "-m", "M", "-t", "2000"], "--threads must be between 1 and " + T + ", not 2000" },
        { ["bench", "-m", "M", "-n", "-5"], "--n-gen must be at least 0, not -5" },
        { ["bench", "-m", "M", "-p", "-1"], "--n-prompt must be at least 0, not -1" },
        { ["bench", "-m", "M", "-r", "0"], "--repetitions must be at least 1, not 0" },
        { ["bench", "throughput", "-m", "M", "-t", "0"], "--threads must be between 1 and " + T + ", not 0" },
        { ["bench", "throughput", "-m", "M", "--num-prompts", "-5"], "--num-prompts must be at least 1, not -5" },
        { ["bench", "throughput", "-m", "M", "--concurrency", "0"], "--concurrency must be at least 1, not 0" },
        { ["quantize", "a.gguf", "b.gguf", "Q8_0", "-t", "-3"], "--threads must be between 1 and " + T + ", not -3" },
    };

    [Theory]
    [MemberData(nameof(BadArguments))]
    public void BadArgumentsAreOneLineBeforeAnythingLoads(string[] args, string expected)
    {
        var r = CliRunner.Run(args);
        AssertOneLineFailure(r, expected);
        Assert.Equal("", r.Out);
    }

    [Theory]
    [InlineData("llama.block_count", (uint)int.MaxValue)]
    [InlineData("llama.context_length", 100_000_000u)]
    [InlineData("llama.context_length", (uint)int.MaxValue)]
    [InlineData("llama.embedding_length", 1u << 30)]
    public void ImplausibleModelIsOneLineWithinASecond(string key, uint value)
    {
        using var dir = new TempDir();
        string bad = WithMetadata(TinyModel(dir), dir.File("bad.gguf"), key, value);
        var sw = Stopwatch.StartNew();
        var r = CliRunner.Run("run", "-m", bad, "-p", "x", "-n", "1");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"took {sw.Elapsed}");
        AssertOneLineFailure(r, $"'{key}' = {value} is out of range");
    }

    [Fact]
    public void SixtyFourBitVocabularyIsRefusedNotTruncated()
    {
        using var dir = new TempDir();
        string bad = WithMetadata(TinyModel(dir), dir.File("bad.gguf"), "llama.vocab_size", (1UL << 32) + 512);
        AssertOneLineFailure(CliRunner.Run("run", "-m", bad, "-p", "x", "-n", "1"), "llama.vocab_size");
    }

    [Fact]
    public void LongestAllowedContextRunsWithAKvCacheSizedByTheRequest()
    {
        using var dir = new TempDir();
        string model = WithMetadata(TinyModel(dir), dir.File("long.gguf"), "llama.context_length", (uint)(1 << 24));
        var sw = Stopwatch.StartNew();
        var r = CliRunner.Run("run", "-m", model, "-p", "Once", "-n", "4", "--temp", "0", "--output", "json");
        Assert.True(r.Code == 0, r.Err);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
    }

    [Fact]
    public void VerbosePrintsTheStackTrace()
    {
        using var dir = new TempDir();
        string bad = WithMetadata(TinyModel(dir), dir.File("bad.gguf"), "llama.block_count", (uint)int.MaxValue);
        var r = CliRunner.Run("run", "-m", bad, "-p", "x", "--verbose");
        Assert.Equal(1, r.Code);
        Assert.StartsWith("loom: ", r.Err);
        Assert.Contains("ModelFormatException", r.Err);
        Assert.Contains("   at ", r.Err);
    }

    [Fact]
    public void MissingFileIsOneLine() =>
        AssertOneLineFailure(CliRunner.Run("run", "-m", "/nonexistent/model.gguf", "-p", "x"), "no such file or directory");

    [Fact]
    public void OutOfMemoryIsOneLine()
    {
        var line = CliErrors.Describe(new OutOfMemoryException());
        Assert.Contains("out of memory", line);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public void UnexpectedExceptionIsOneLineNamingItsType()
    {
        var line = CliErrors.Describe(new NullReferenceException("Object reference not set\nsecond line"));
        Assert.Equal("unexpected error: NullReferenceException: Object reference not set second line (run with --verbose for the stack trace)", line);
        Assert.Contains("KeyNotFoundException", CliErrors.Describe(new AggregateException(new KeyNotFoundException("k"))));
    }

    [Fact]
    public void ArgumentMessagesLoseTheirProgrammerLines()
    {
        var e = new ArgumentOutOfRangeException("max_tokens", -5, "max_tokens must be at least 1. Got -5.");
        Assert.Equal("max_tokens must be at least 1. Got -5.", CliErrors.Describe(e));
    }
}
