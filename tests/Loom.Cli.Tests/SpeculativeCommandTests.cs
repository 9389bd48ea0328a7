using System.Text.Json;
using Loom.Tests;

namespace Loom.Cli.Tests;

/// <summary><c>--speculative ngram</c> on <c>run</c> and <c>bench throughput</c>: the same tokens, with the acceptance reported.</summary>
public class SpeculativeCommandTests
{
    [Fact]
    public void Run_reports_acceptance_and_generates_the_same_tokens()
    {
        string[] args = ["run", "-m", RepoModels.Stories260K, "-p", "Tom had a big red ball. Tom had a big red ball. Tom had a big", "-n", "24",
            "--temp", "0", "--ignore-eos", "-t", "1", "--output", "json"];
        var (code, plain, err) = CliRunner.Run(args);
        Assert.True(code == 0, err);
        (code, var spec, err) = CliRunner.Run([.. args, "--speculative", "ngram", "--num-speculative-tokens", "3"]);
        Assert.True(code == 0, err);
        using var a = JsonDocument.Parse(plain);
        using var b = JsonDocument.Parse(spec);
        Assert.Equal(a.RootElement.GetProperty("generated_ids").GetRawText(), b.RootElement.GetProperty("generated_ids").GetRawText());
        Assert.False(a.RootElement.TryGetProperty("speculative", out var none) && none.ValueKind != JsonValueKind.Null);
        var s = b.RootElement.GetProperty("speculative");
        Assert.Equal("ngram", s.GetProperty("method").GetString());
        Assert.True(s.GetProperty("draft_tokens").GetInt64() > 0, spec);
        Assert.True(s.GetProperty("accepted_tokens").GetInt64() > 0, spec);
    }

    [Fact]
    public void Run_draft_sampling_greedy_keeps_the_seeded_output_and_sample_reproduces_without_the_back_off()
    {
        string[] args = ["run", "-m", RepoModels.Stories260K, "-p", "Once upon a time", "-n", "24", "--temp", "1", "--seed", "3",
            "--ignore-eos", "-t", "1", "--output", "json"];
        string Ids(string[] a, string? sampling)
        {
            var (code, stdout, err) = CliRunner.Run(a);
            Assert.True(code == 0, err);
            using var d = JsonDocument.Parse(stdout);
            if (sampling is not null) Assert.Equal(sampling, d.RootElement.GetProperty("speculative").GetProperty("draft_sampling").GetString());
            var ids = d.RootElement.GetProperty("generated_ids");
            Assert.Equal(24, ids.GetArrayLength());
            return ids.GetRawText();
        }
        string plain = Ids(args, null);
        Assert.Equal(plain, Ids([.. args, "--speculative", "layers:3", "--speculative-draft-sampling", "greedy"], "greedy"));
        Assert.Equal(plain, Ids([.. args, "--speculative", "layers:3"], "greedy")); // the default keeps the seed's tokens
        string[] sampled = [.. args, "--speculative", "layers:3", "--speculative-draft-sampling", "sample", "--speculative-no-backoff"];
        Assert.Equal(Ids(sampled, "sample"), Ids(sampled, "sample"));

        var (bad, _, err) = CliRunner.Run([.. args, "--speculative", "layers:3", "--speculative-draft-sampling", "maybe"]);
        Assert.NotEqual(0, bad);
        (bad, _, err) = CliRunner.Run([.. args, "--speculative-draft-sampling", "greedy"]);
        Assert.Equal(1, bad);
        Assert.Contains("needs --speculative", err);
    }

    [Fact]
    public void Run_with_a_draft_model()
    {
        // The model as its own draft model: every draft token is accepted.
        var (code, stdout, err) = CliRunner.Run("run", "-m", RepoModels.Stories260K, "-p", "Once upon a time", "-n", "16", "--temp", "0",
            "--ignore-eos", "-t", "1", "--draft-model", RepoModels.Stories260K, "--output", "json");
        Assert.True(code == 0, err);
        using var d = JsonDocument.Parse(stdout);
        var s = d.RootElement.GetProperty("speculative");
        Assert.Equal("draftmodel", s.GetProperty("method").GetString());
        Assert.True(s.GetProperty("draft_tokens").GetInt64() > 0);
        Assert.Equal(s.GetProperty("draft_tokens").GetInt64(), s.GetProperty("accepted_tokens").GetInt64());
        (code, _, err) = CliRunner.Run("run", "-m", RepoModels.Stories260K, "-p", "a", "-n", "2", "--draft-model", RepoModels.Stories260K, "--speculative", "ngram");
        Assert.Equal(1, code);
        Assert.Contains("give one", err);
    }

    [Fact]
    public void Bench_throughput_reports_acceptance()
    {
        var (code, stdout, err) = CliRunner.Run("bench", "throughput", "-m", RepoModels.Stories260K, "--num-prompts", "2", "--input-len", "16",
            "--output-len", "8", "-t", "1", "--speculative", "ngram", "--output", "json");
        Assert.True(code == 0, err);
        using var d = JsonDocument.Parse(stdout);
        Assert.Equal(5, d.RootElement.GetProperty("speculative").GetProperty("num_speculative_tokens").GetInt32());
    }

    [Fact]
    public void Bench_tg_alternates_plain_and_speculative_runs_and_reports_acceptance_and_pass_costs()
    {
        // Without the back-off, whose measured pass costs on a loaded machine could stop drafting.
        var (code, stdout, err) = CliRunner.Run("bench", "-m", RepoModels.Stories260K, "-p", "0", "-n", "12", "-r", "2", "-t", "1", "--probe-mib", "0",
            "--speculative", "ngram", "--num-speculative-tokens", "3", "--speculative-no-backoff", "--prompt-text", "Tom had a big red ball. Tom had a big red ball. Tom had a big", "--output", "json");
        Assert.True(code == 0, err);
        using var d = JsonDocument.Parse(stdout);
        var rows = d.RootElement.EnumerateArray().ToArray();
        var tg = rows.Where(r => r.GetProperty("test").GetString()!.StartsWith("tg12 @ d", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, tg.Length);
        Assert.Equal(JsonValueKind.Null, tg[0].GetProperty("speculative").ValueKind);
        Assert.Equal("ngram k=3 no-backoff", tg[1].GetProperty("speculative").GetString());
        Assert.True(tg[1].GetProperty("same_output").GetBoolean());
        Assert.True(tg[1].GetProperty("draft_tokens").GetInt64() > 0, stdout);
        Assert.True(tg[1].GetProperty("accepted_tokens").GetInt64() > 0, stdout);
        Assert.True(tg[1].GetProperty("mean_accepted_length").GetDouble() > 1, stdout);
        // The verification-cost curve: a pass over 1 .. k+1 tokens.
        var passes = rows.Where(r => r.GetProperty("test").GetString()!.StartsWith("pass", StringComparison.Ordinal)).ToArray();
        Assert.Equal([1, 2, 3, 4], passes.Select(r => r.GetProperty("pass_tokens").GetInt32()));
        Assert.All(passes, r => Assert.True(r.GetProperty("pass_ms").GetDouble() > 0));
    }

    [Fact]
    public void Bench_tg_with_a_draft_model_accepts_everything_from_the_model_itself()
    {
        var (code, stdout, err) = CliRunner.Run("bench", "-m", RepoModels.Stories260K, "-p", "0", "-n", "8", "-r", "1", "-t", "1", "--probe-mib", "0",
            "--draft-model", RepoModels.Stories260K, "--prompt-text", "Once upon a time", "--output", "json");
        Assert.True(code == 0, err);
        using var d = JsonDocument.Parse(stdout);
        var spec = d.RootElement.EnumerateArray().Single(r => r.GetProperty("speculative").ValueKind == JsonValueKind.String);
        Assert.StartsWith("draft k=5", spec.GetProperty("speculative").GetString());
        Assert.Equal(1.0, spec.GetProperty("acceptance_rate").GetDouble());
    }

    [Fact]
    public void Bench_prompt_without_speculation_is_refused()
    {
        var (code, _, err) = CliRunner.Run("bench", "-m", RepoModels.Stories260K, "-p", "0", "-n", "4", "--probe-mib", "0", "--prompt-text", "a");
        Assert.Equal(1, code);
        Assert.Contains("--prompt-text and --prompt-file", err);
    }

    [Fact]
    public void Speculative_settings_without_a_method_are_refused()
    {
        var (code, _, err) = CliRunner.Run("run", "-m", RepoModels.Stories260K, "-p", "a", "-n", "2", "--num-speculative-tokens", "3");
        Assert.Equal(1, code);
        Assert.Contains("--num-speculative-tokens needs --speculative", err);
        (code, _, err) = CliRunner.Run("run", "-m", RepoModels.Stories260K, "-p", "a", "-n", "2", "--speculative", "medusa");
        Assert.Equal(1, code);
        Assert.Contains("medusa", err);
    }
}
