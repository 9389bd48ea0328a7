using System.Text.Json;
using Loom.Engine;

namespace Loom.Server.Tests;

/// <summary>
/// A request the engine fails mid-generation is answered, never dropped: 500 in OpenAI's error shape, or (once a
/// stream has begun) an SSE error event before [DONE]. The other requests carry on and nothing is left queued.
/// </summary>
public sealed class EngineFailureTests : IAsyncLifetime
{
    /// <summary>Fails at emit, third token, every request sampled with seed 666.</summary>
    private sealed class FailSeed666 : IEngineFaults
    {
        private readonly Dictionary<string, int> _seen = [];
        public void At(EngineStage stage, Request r)
        {
            if (stage != EngineStage.Emit || r.Params.Seed != 666) return;
            lock (_seen)
                if ((_seen[r.Id] = _seen.GetValueOrDefault(r.Id) + 1) == 3) throw new InvalidOperationException("injected emit fault");
        }
    }

    private Loom.Models.LoadedModel? _model;
    private LlmEngine? _engine;
    private LoomServer? _server;
    private SdkRaw Raw => new(Clients.For(new Uri(_server!.BaseAddress, "v1"), "k"), new Uri(_server!.BaseAddress, "v1"));

    public async Task InitializeAsync()
    {
        _model = TestModels.LoadChat();
        _engine = new LlmEngine(_model, new EngineOptions { Threads = 1, MaxNumSeqs = 8, Faults = new FailSeed666() });
        _server = LoomServer.Create(_engine, new LoomServerOptions { Port = 0, ServedModelName = "m" });
        await _server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        _engine?.Dispose();
        _model?.Dispose();
    }

    [Fact]
    public async Task A_failed_request_is_a_500_and_a_streamed_one_ends_with_an_error_event()
    {
        // Plain HTTP: the SDK's pipeline retries a 500 on its own.
        using var http = new HttpClient();
        using var response = await http.PostAsync(new Uri(_server!.BaseAddress, "v1/completions"), new StringContent(
            JsonSerializer.Serialize(new { prompt = "Once", max_tokens = 8, temperature = 0.8, seed = 666, ignore_eos = true }), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(500, (int)response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("server_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains("injected emit fault", body.RootElement.GetProperty("error").GetProperty("message").GetString());

        using var streamed = await http.PostAsync(new Uri(_server!.BaseAddress, "v1/completions"), new StringContent(
            JsonSerializer.Serialize(new { prompt = "Once", max_tokens = 8, seed = 666, ignore_eos = true, stream = true }), System.Text.Encoding.UTF8, "application/json"));
        string text = await streamed.Content.ReadAsStringAsync();
        Assert.True((int)streamed.StatusCode == 200, text);
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).ToArray();
        Assert.True(events.Length >= 3, text); // tokens before the fault, the error, [DONE]
        Assert.Equal("[DONE]", events[^1]);
        using var last = JsonDocument.Parse(events[^2]);
        Assert.Equal("engine_error", last.RootElement.GetProperty("error").GetProperty("code").GetString());

        var ok = await Raw.PostAsync("completions", new { prompt = "Once", max_tokens = 8, temperature = 0, ignore_eos = true });
        Assert.Equal(200, ok.Status);
        Assert.Equal(0, _engine!.PendingRequests);
        Assert.Equal(0, _engine.Blocks.UsedBlocks);
        Assert.Equal(2, _engine.Metrics.Failed);
    }
}
