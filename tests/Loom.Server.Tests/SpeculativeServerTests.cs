using Loom.Engine;
using Loom.Engine.Speculative;
using Loom.Models;
using Loom.Server.InProcess;
using Microsoft.Extensions.AI;

namespace Loom.Server.Tests;

/// <summary>A server that speculates: the same completion with and without the per-request opt-out, acceptance in usage and /metrics.</summary>
public sealed class SpeculativeServerTests : IAsyncLifetime
{
    private LoadedModel? _model;
    private LlmEngine _engine = null!;
    private LoomServer _server = null!;

    public async Task InitializeAsync()
    {
        _model = TestModels.LoadChat();
        _engine = new LlmEngine(_model, new EngineOptions { Threads = 1, MaxNumSeqs = 4, Speculative = new SpeculativeOptions { NumTokens = 3 } });
        _server = LoomServer.Create(_engine, new LoomServerOptions { Port = 0, ApiKey = ServerFixture.ApiKey, ServedModelName = ServerFixture.ModelName });
        await _server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _engine.Dispose();
        _model?.Dispose();
    }

    [Fact]
    public async Task Opting_out_changes_nothing_but_the_usage()
    {
        var raw = new SdkRaw(Clients.For(new Uri(_server.BaseAddress, "v1"), ServerFixture.ApiKey), new Uri(_server.BaseAddress, "v1"));
        // A repetitive prompt, so the n-gram proposer drafts from the first decode on.
        string prompt = string.Concat(Enumerable.Repeat("the little dog ran to the park. ", 6));
        object Body(bool? speculative) => speculative is bool s
            ? new { model = ServerFixture.ModelName, prompt, max_tokens = 24, temperature = 0, ignore_eos = true, speculative = s }
            : new { model = ServerFixture.ModelName, prompt, max_tokens = 24, temperature = 0, ignore_eos = true };

        var on = await raw.PostAsync("completions", Body(null));
        var off = await raw.PostAsync("completions", Body(false));
        Assert.Equal(200, on.Status);
        Assert.Equal(200, off.Status);
        Assert.Equal(off.Json.GetProperty("choices")[0].GetProperty("text").GetString(), on.Json.GetProperty("choices")[0].GetProperty("text").GetString());
        var usage = on.Json.GetProperty("usage");
        Assert.True(usage.TryGetProperty("speculative", out var spec), on.Body);
        int drafted = spec.GetProperty("draft_tokens").GetInt32(), accepted = spec.GetProperty("accepted_tokens").GetInt32();
        Assert.True(drafted > 0 && accepted <= drafted, on.Body);
        Assert.False(off.Json.GetProperty("usage").TryGetProperty("speculative", out _), off.Body);

        using var http = new HttpClient();
        var metrics = Prometheus.Parse(await http.GetStringAsync(new Uri(_server.BaseAddress, "metrics")));
        Assert.Equal(drafted, metrics["loom_spec_decode_draft_tokens_total"]);
        Assert.Equal(accepted, metrics["loom_spec_decode_accepted_tokens_total"]);
        Assert.True(metrics.ContainsKey("loom_spec_decode_mean_accepted_length"));

        var bad = await raw.PostAsync("completions", """{"model":"tiny","prompt":"hi","speculative":"yes"}""");
        Assert.Equal(400, bad.Status);
        Assert.Contains("speculative", bad.Body);
    }

    [Fact]
    public async Task The_chat_client_speculates_unless_told_not_to_and_reports_it()
    {
        IChatClient client = new LoomChatClient(_engine, "tiny");
        List<ChatMessage> messages = [new(ChatRole.User, string.Concat(Enumerable.Repeat("the little dog ran to the park. ", 6)))];
        var on = await client.GetResponseAsync(messages, new ChatOptions { Temperature = 0, MaxOutputTokens = 24 });
        var offOptions = new ChatOptions { Temperature = 0, MaxOutputTokens = 24, AdditionalProperties = new() { ["speculative"] = false } };
        var off = await client.GetResponseAsync(messages, offOptions);
        Assert.Equal(off.Text, on.Text);
        Assert.Equal(off.Usage!.OutputTokenCount, on.Usage!.OutputTokenCount);
        Assert.True(on.Usage.OutputTokenCount > 4, $"too short to speculate: '{on.Text}'");
        Assert.NotNull(on.Usage.AdditionalCounts);
        long drafted = on.Usage.AdditionalCounts["speculative_draft_tokens"];
        Assert.True(drafted > 0, "no draft tokens reported");
        Assert.True(on.Usage.AdditionalCounts["speculative_accepted_tokens"] <= drafted);
        Assert.Null(off.Usage.AdditionalCounts);

        UsageDetails? streamed = null;
        await foreach (var u in client.GetStreamingResponseAsync(messages, new ChatOptions { Temperature = 0, MaxOutputTokens = 24 }))
            foreach (var c in u.Contents) if (c is UsageContent uc) streamed = uc.Details;
        Assert.True(streamed?.AdditionalCounts?.ContainsKey("speculative_draft_tokens") == true);
    }
}
