using System.Net;
using Loom.Engine;
using Loom.Server.Endpoints;
using Loom.Server.Errors;
using Loom.Server.Metrics;
using Loom.Server.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Loom.Server;

/// <summary>
/// The OpenAI-compatible HTTP server over one <see cref="LlmEngine"/> (Kestrel): /v1/completions,
/// /v1/chat/completions, /v1/models, /health, /metrics, /tokenize and /detokenize, and a web page at /. Build it with
/// <see cref="Create"/>, <see cref="StartAsync"/> it (port 0 picks a free port; see <see cref="BaseAddress"/>),
/// and dispose it to stop. The engine's step loop is started if it was not; the engine is not disposed.
/// </summary>
public sealed class LoomServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly PrometheusExporter _exporter;

    private readonly Action<string, Exception> _logFailure;

    private LoomServer(WebApplication app, ServingContext context, PrometheusExporter exporter)
    {
        _app = app;
        Context = context;
        _exporter = exporter;
        // An engine failure ends only its request (a 500 or an SSE error event); it is logged here, once.
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("loom.engine");
        _logFailure = (id, e) => log.LogError(e, "request {RequestId} failed in the engine", id);
        context.Engine.RequestFailed += _logFailure;
    }

    internal ServingContext Context { get; }
    public LlmEngine Engine => Context.Engine;
    /// <summary>The name clients use as <c>model</c>.</summary>
    public string ServedModelName => Context.ServedModelName;
    /// <summary>Where the server listens, e.g. http://127.0.0.1:8080/ (known after <see cref="StartAsync"/>).</summary>
    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1/");

    /// <summary>Configures a server for <paramref name="engine"/>; nothing listens until <see cref="StartAsync"/>.</summary>
    public static LoomServer Create(LlmEngine engine, LoomServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        options ??= new LoomServerOptions();
        var context = new ServingContext(engine, options.ServedModelName ?? engine.Model.Name, options.ChatTemplate);
        engine.Metrics.Observe(engine);
        var exporter = new PrometheusExporter(m => ReferenceEquals(m, engine.Metrics.Meter),
            ("loom_kernels_info", "The CPU kernel tier this process runs.", "kernels", Core.Kernels.KernelTier.Name));

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (options.Logging) builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information)
            .AddFilter("Microsoft.AspNetCore", LogLevel.Warning).AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        builder.WebHost.UseKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            k.AddServerHeader = false;
            if (options.Host == "localhost") k.ListenLocalhost(options.Port);
            else if (IPAddress.TryParse(options.Host, out var ip)) k.Listen(ip, options.Port);
            else throw new ArgumentException($"--host must be an IP address or localhost, not '{options.Host}'", "host");
        });
        // Streams in flight at shutdown are cut after a short grace period rather than awaited to their end.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, LoomJsonContext.Default));
        var app = builder.Build();

        if (options.Logging) app.Use(RequestLog.Create(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("loom.server")));
        app.Use(ErrorHandling.InvokeAsync);
        if (options.ApiKey is { Length: > 0 } key) app.Use(new ApiKeyCheck(key).InvokeAsync);

        var completions = new CompletionsEndpoint(context);
        var chat = new ChatCompletionsEndpoint(context);
        var models = new ModelsEndpoint(context);
        var tokenize = new TokenizeEndpoint(context);
        app.MapPost("/v1/completions", completions.HandleAsync);
        app.MapPost("/v1/chat/completions", chat.HandleAsync);
        app.MapGet("/v1/models", models.ListAsync);
        app.MapGet("/v1/models/{id}", models.GetAsync);
        app.MapPost("/tokenize", tokenize.TokenizeAsync);
        app.MapPost("/detokenize", tokenize.DetokenizeAsync);
        app.MapGet("/health", (HttpContext ctx) => ctx.Response.WriteAsJsonAsync(new HealthStatus("ok"), Json.Context.HealthStatus, "application/json", ctx.RequestAborted));
        app.MapGet("/metrics", (HttpContext ctx) =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            return ctx.Response.WriteAsync(exporter.Scrape(), ctx.RequestAborted);
        });
        Web.WebPage.Map(app);
        app.MapFallback((HttpContext ctx) => throw new OpenAiException(HttpStatusCode.NotFound,
            $"No route for {ctx.Request.Method} {ctx.Request.Path}.", "invalid_request_error", null, "not_found"));
        return new LoomServer(app, context, exporter);
    }

    /// <summary>Starts the engine loop and listening; <see cref="BaseAddress"/> then holds the bound address.</summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        Engine.Start();
        await _app.StartAsync(ct);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1").Replace("0.0.0.0", "127.0.0.1").TrimEnd('/') + "/");
    }

    /// <summary>Completes when the server stops (Ctrl+C, SIGTERM or <paramref name="ct"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken ct = default) => _app.WaitForShutdownAsync(ct);

    /// <summary>The current /metrics text.</summary>
    public string ScrapeMetrics() => _exporter.Scrape();

    public async ValueTask DisposeAsync()
    {
        Context.Engine.RequestFailed -= _logFailure;
        await _app.StopAsync();
        await _app.DisposeAsync();
        _exporter.Dispose();
    }
}
