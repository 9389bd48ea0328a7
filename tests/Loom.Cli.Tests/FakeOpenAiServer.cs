using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Loom.Cli.Tests;

/// <summary>
/// An OpenAI-compatible <c>/v1/completions</c> on loopback that streams <c>max_tokens</c> one-token chunks on a known
/// schedule: the first <see cref="Timing.FirstMs"/> after the request arrives, then one every
/// <see cref="Timing.GapMs"/>, each sent at its absolute time so that delays do not add up. The prompt text picks the
/// schedule: see <see cref="TimingFor"/>.
/// </summary>
internal sealed class FakeOpenAiServer : IAsyncDisposable
{
    public sealed record Timing(int FirstMs, int GapMs);

    public static readonly Timing Fast = new(50, 10);
    public static readonly Timing SlowFirst = new(250, 10);
    public static readonly Timing SlowGaps = new(50, 40);

    private readonly WebApplication _app;
    private int _requests;

    public Uri BaseUrl { get; private set; } = null!;
    public int Requests => Volatile.Read(ref _requests);

    private FakeOpenAiServer(WebApplication app) => _app = app;

    public static Timing TimingFor(string prompt) => prompt switch
    {
        "slow-first" => SlowFirst,
        "slow-gaps" => SlowGaps,
        _ => Fast,
    };

    public static async Task<FakeOpenAiServer> StartAsync()
    {
        // The benchmark, the CLI runner (which blocks a thread) and this server share one process; a pool that starts
        // with a thread per core would add its ramp-up delays to the timings being checked.
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), io);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new FakeOpenAiServer(app);
        app.MapGet("/v1/models", () => Results.Text("""{"object":"list","data":[{"id":"fake-model","object":"model"}]}""", "application/json"));
        app.MapPost("/v1/completions", server.CompleteAsync);
        await app.StartAsync();
        server.BaseUrl = new Uri(app.Urls.First());
        return server;
    }

    private async Task CompleteAsync(HttpContext http)
    {
        long start = Stopwatch.GetTimestamp();
        Interlocked.Increment(ref _requests);
        using var body = await JsonDocument.ParseAsync(http.Request.Body);
        var root = body.RootElement;
        string prompt = root.GetProperty("prompt").ValueKind == JsonValueKind.String ? root.GetProperty("prompt").GetString()! : "";
        if (prompt == "fail")
        {
            http.Response.StatusCode = 400;
            await http.Response.WriteAsync("""{"error":{"message":"this prompt always fails","type":"invalid_request_error"}}""");
            return;
        }
        if (root.GetProperty("model").GetString() != "fake-model" || !root.GetProperty("stream").GetBoolean())
        {
            http.Response.StatusCode = 404;
            await http.Response.WriteAsync("""{"error":{"message":"unknown model or not streamed"}}""");
            return;
        }
        int tokens = root.GetProperty("max_tokens").GetInt32();
        var timing = TimingFor(prompt);
        http.Response.ContentType = "text/event-stream";
        await http.Response.StartAsync();
        for (int i = 0; i < tokens; i++)
        {
            // Timers run on a coarse clock and can fire a millisecond or two early: wait until the stopwatch agrees.
            var at = TimeSpan.FromMilliseconds(timing.FirstMs + i * timing.GapMs);
            for (var due = at - Stopwatch.GetElapsedTime(start); due > TimeSpan.Zero; due = at - Stopwatch.GetElapsedTime(start))
                await Task.Delay(due > TimeSpan.FromMilliseconds(1) ? due : TimeSpan.FromMilliseconds(1), http.RequestAborted);
            string finish = i == tokens - 1 ? "\"length\"" : "null";
            await Send($$"""{"id":"cmpl-1","object":"text_completion","model":"fake-model","choices":[{"index":0,"text":" t{{i}}","finish_reason":{{finish}}}]}""");
        }
        string usage = $$"""{"prompt_tokens":7,"completion_tokens":{{tokens}},"total_tokens":{{7 + tokens}}}""";
        await Send($$"""{"id":"cmpl-1","object":"text_completion","model":"fake-model","choices":[],"usage":{{usage}}}""");
        await http.Response.Body.WriteAsync("data: [DONE]\n\n"u8.ToArray());
        await http.Response.Body.FlushAsync();

        async Task Send(string json)
        {
            await http.Response.Body.WriteAsync(Encoding.UTF8.GetBytes($"data: {json}\n\n"));
            await http.Response.Body.FlushAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
