using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Loom.Engine;
using Loom.Models;
using Loom.Server.Tests.Browser;
using Loom.Tests;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Loom.Server.Tests;

/// <summary>The page at / and its assets: served without the key, while the API it calls still needs it.</summary>
[Collection("server")]
public sealed class WebAssetTests(ServerFixture f)
{
    private static readonly HttpClient Http = new();

    [Fact]
    public async Task Page_and_assets_are_open_and_the_api_stays_guarded()
    {
        var page = await Http.GetAsync(f.Server.BaseAddress);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("default-src 'none'", page.Headers.GetValues("Content-Security-Policy").Single());
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("/ui/app.js", html);
        Assert.Contains("/ui/app.css", html);

        foreach (var (path, type) in new[] { ("ui/app.js", "text/javascript"), ("ui/app.css", "text/css") })
        {
            var asset = await Http.GetAsync(new Uri(f.Server.BaseAddress, path));
            Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
            Assert.Equal(type, asset.Content.Headers.ContentType?.MediaType);
            // Revalidation: the same ETag back gives 304 and no body.
            using var again = new HttpRequestMessage(HttpMethod.Get, new Uri(f.Server.BaseAddress, path));
            again.Headers.IfNoneMatch.Add(asset.Headers.ETag!);
            Assert.Equal(HttpStatusCode.NotModified, (await Http.SendAsync(again)).StatusCode);
        }

        var missing = await Http.GetAsync(new Uri(f.Server.BaseAddress, "ui/nothing.js"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("not_found", JsonDocument.Parse(await missing.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await Http.GetAsync(new Uri(f.Server.BaseAddress, "v1/models"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(new Uri(f.Server.BaseAddress, "metrics"))).StatusCode);
    }
}

/// <summary>
/// A server with an API key over the repository's stories260K (real words in the screenshot); its steps slowed so a stream lasts long enough to stop and to be seen in the metrics; and one headless
/// Chromium for the class.
/// </summary>
public sealed class WebPageFixture : IAsyncLifetime
{
    /// <summary>Sleeps in each request's forward pass: a few hundred tokens take seconds, not milliseconds.</summary>
    private sealed class SlowSteps : IEngineFaults
    {
        public void At(EngineStage stage, Request request) { if (stage == EngineStage.Run) Thread.Sleep(5); }
    }

    private LoadedModel? _model;
    private IPlaywright? _playwright;

    public LlmEngine Engine { get; private set; } = null!;
    public LoomServer Server { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public string ModelName => "stories";
    /// <summary>max_tokens for an answer that runs for seconds: most of the context.</summary>
    public int LongAnswer => Engine.Model.Config.ContextLength - 64;
    internal SdkRaw Api => new(Clients.For(new Uri(Server.BaseAddress, "v1"), ServerFixture.ApiKey), new Uri(Server.BaseAddress, "v1"));

    public async Task InitializeAsync()
    {
        if (Chromium.SkipReason is not null) return;
        const string storyTemplate = "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}{{ m.content }} {% endif %}{% endfor %}";
        _model = ModelLoader.Load(RepoModels.Stories260K);
        Engine = new LlmEngine(_model, new EngineOptions { Threads = 1, MaxNumSeqs = 16, Faults = new SlowSteps() });
        Server = LoomServer.Create(Engine, new LoomServerOptions
        {
            Port = 0, ApiKey = ServerFixture.ApiKey, ServedModelName = ModelName, ChatTemplate = storyTemplate,
        });
        await Server.StartAsync();
        // The whole suite runs beside these tests on a few cores: Playwright's 5 s default is too tight there.
        Assertions.SetDefaultExpectTimeout(20_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium.Executable, Headless = true });
    }

    /// <summary>Waits until the engine holds no request (a stopped stream is aborted at the next step).</summary>
    public async Task WaitIdleAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Engine.Scheduler.RunningCount + Engine.Scheduler.WaitingCount > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the engine still holds requests after 30 s");
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
        if (Server is not null) await Server.DisposeAsync();
        Engine?.Dispose();
        _model?.Dispose();
    }
}

/// <summary>The page in a real browser (headless Chromium through Playwright): chat, stop, and the engine panel.</summary>
public sealed class WebPageTests(WebPageFixture f, ITestOutputHelper output) : IClassFixture<WebPageFixture>, IAsyncLifetime
{
    private IBrowserContext _context = null!;
    private IPage _page = null!;
    private readonly List<string> _browserErrors = [];

    public async Task InitializeAsync()
    {
        if (Chromium.SkipReason is not null) return;
        await f.WaitIdleAsync();
        _context = await f.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });
        _page = await _context.NewPageAsync();
        // A script error or a blocked resource (the page's own CSP included) fails the test. The 401 before the key
        // is given is expected and logged by the browser as a failed resource.
        _page.PageError += (_, e) => _browserErrors.Add(e);
        _page.Console += (_, m) => { if (m.Type == "error" && !m.Text.Contains("401")) _browserErrors.Add($"{m.Text} ({m.Location})"); };
        await _page.GotoAsync(f.Server.BaseAddress.ToString());
        // Without the key the page asks for it; with it, it shows the model and its context length.
        await Expect(_page.Locator("#key-form")).ToBeVisibleAsync();
        await _page.FillAsync("#key", ServerFixture.ApiKey);
        await _page.ClickAsync("#key-form button");
        await Expect(_page.Locator("#model")).ToHaveTextAsync(f.ModelName);
        await Expect(_page.Locator("#context")).ToHaveTextAsync($"context {f.Engine.Model.Config.ContextLength} tokens");
        await Expect(_page.Locator("#key-form")).ToBeHiddenAsync();
    }

    public async Task DisposeAsync()
    {
        if (Chromium.SkipReason is not null) return;
        await _context.DisposeAsync();
        Assert.Empty(_browserErrors);
    }

    private ILocator Answer => _page.Locator(".msg.assistant .text").Last;

    private async Task SendAsync(string text, int maxTokens, bool ignoreEos)
    {
        await _page.FillAsync("#temperature", "0");
        await _page.FillAsync("#max_tokens", maxTokens.ToString());
        await _page.Locator("#ignore_eos").SetCheckedAsync(ignoreEos);
        await _page.FillAsync("#prompt", text);
        await _page.ClickAsync("#send");
    }

    [ChromiumFact]
    public async Task Chat_streams_the_same_greedy_answer_as_the_api()
    {
        await SendAsync("The little dog", 32, ignoreEos: true);
        await Expect(_page.Locator(".msg.assistant").Last).ToHaveAttributeAsync("data-finish", "length");
        string shown = await Answer.TextContentAsync() ?? "";

        var direct = await f.Api.PostAsync("chat/completions", new
        {
            model = f.ModelName,
            messages = new[] { new { role = "user", content = "The little dog" } },
            temperature = 0, max_tokens = 32, ignore_eos = true,
        });
        Assert.Equal(200, direct.Status);
        string expected = direct.Json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        Assert.NotEmpty(expected);
        Assert.Equal(expected, shown);
        await Expect(_page.Locator(".msg.assistant .meta").Last).ToContainTextAsync("32 tokens");
        await Expect(_page.Locator("#send")).ToBeEnabledAsync();
    }

    [ChromiumFact]
    public async Task Stop_ends_the_stream_midway_and_the_page_is_ready_again()
    {
        long abortedBefore = f.Engine.Metrics.Aborted, generatedBefore = f.Engine.Metrics.GenerationTokens;
        await SendAsync("Go on forever", f.LongAnswer, ignoreEos: true);
        await Expect(_page.Locator("#stop")).ToBeEnabledAsync();
        await _page.WaitForFunctionAsync("() => document.querySelector('.msg.assistant:last-child .text').textContent.length > 20");
        await _page.ClickAsync("#stop");

        await Expect(_page.Locator(".msg.assistant").Last).ToHaveAttributeAsync("data-finish", "stopped");
        await Expect(_page.Locator("#send")).ToBeEnabledAsync();
        await Expect(_page.Locator("#stop")).ToBeDisabledAsync();
        string stopped = await Answer.TextContentAsync() ?? "";
        await Task.Delay(1000);
        Assert.Equal(stopped, await Answer.TextContentAsync());

        // The server saw the disconnect: the request is aborted and its blocks are freed.
        await f.WaitIdleAsync();
        Assert.True(f.Engine.Metrics.Aborted > abortedBefore);
        Assert.True(f.Engine.Metrics.GenerationTokens - generatedBefore < f.LongAnswer, "the stopped request ran to its end");

        // The conversation goes on: the stopped answer is part of it.
        await SendAsync("And then?", 4, ignoreEos: true);
        await Expect(_page.Locator(".msg.assistant").Last).ToHaveAttributeAsync("data-finish", "length");
        await Expect(_page.Locator(".msg")).ToHaveCountAsync(4);
    }

    [ChromiumFact]
    public async Task Engine_panel_follows_the_load()
    {
        var running = _page.Locator("#m-running");
        await Expect(running).ToHaveTextAsync("0");
        await Expect(_page.Locator("#kernels")).ToContainTextAsync("kernels ");

        // Load from other clients, and one answer streaming on the page itself. The clients share a prompt prefix,
        // and the first is past its prefill before the others arrive, so they find its blocks in the prefix cache.
        using var load = new CancellationTokenSource();
        const string prefix = "Once upon a time there was a little dog named Max who loved to run and play in the big green park. ";
        Task<SdkRaw.OpenStream> Open(int i) => f.Api.OpenStreamAsync("chat/completions", new
        {
            model = f.ModelName,
            messages = new[] { new { role = "user", content = $"{prefix}Tom and his friend {i}" } },
            max_tokens = f.LongAnswer, ignore_eos = true, stream = true,
        });
        var first = await Open(0);
        for (int e = 0; e < 2; e++) await first.ReadEventAsync(); // the role, then the first token
        SdkRaw.OpenStream[] streams = [first, .. await Task.WhenAll(Enumerable.Range(1, 3).Select(Open))];
        var drains = streams.Select(s => Task.Run(async () => { while (!load.IsCancellationRequested && await s.ReadEventAsync() is not null) { } })).ToArray();
        try
        {
            await SendAsync("Once upon a time, a little dog", f.LongAnswer, ignoreEos: true);
            await _page.WaitForFunctionAsync("() => Number(document.querySelector('#m-running').textContent) >= 3");
            await _page.WaitForFunctionAsync("() => Number(document.querySelector('#m-tps').textContent) > 0");
            await _page.WaitForFunctionAsync("() => Number(document.querySelector('#m-kv-used').textContent) > 0");
            await _page.WaitForFunctionAsync("() => parseFloat(document.querySelector('#m-hit-rate').textContent) > 0");
            // A few seconds of history in the chart before the picture.
            await Task.Delay(4000);
            string shot = ScreenshotPath();
            await _page.ScreenshotAsync(new() { Path = shot });
            output.WriteLine($"screenshot of the page under load: {shot}");
            Assert.True(new FileInfo(shot).Length > 10_000);
        }
        finally
        {
            load.Cancel();
            foreach (var s in streams) s.Dispose();
            await Task.WhenAll(drains.Select(d => d.ContinueWith(_ => { })));
            if (await _page.Locator("#stop").IsEnabledAsync()) await _page.ClickAsync("#stop");
        }
        await f.WaitIdleAsync();
        await Expect(running).ToHaveTextAsync("0");
        await _page.WaitForFunctionAsync("() => Number(document.querySelector('#m-tps').textContent) === 0");
    }

    /// <summary>artifacts/web/ under the repository (ignored by git) when the tests run from it, else the test output.</summary>
    private static string ScreenshotPath()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Loom.slnx"))) dir = dir.Parent;
        string folder = Path.Combine(dir?.FullName ?? AppContext.BaseDirectory, "artifacts", "web");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, "loom-page-under-load.png");
    }
}
