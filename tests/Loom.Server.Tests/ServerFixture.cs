using System.ClientModel;
using System.ClientModel.Primitives;
using Loom.Engine;
using Loom.Models;
using OpenAI;

namespace Loom.Server.Tests;

/// <summary>A live server on loopback (port 0) over the tiny chat model, shared by the tests of one collection.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string ApiKey = "test-key";
    public const string ModelName = "tiny";
    public const long BodyLimit = 64 * 1024;

    private LoadedModel? _model;

    public LlmEngine Engine { get; private set; } = null!;
    public LoomServer Server { get; private set; } = null!;
    public Uri ApiBase => new(Server.BaseAddress, "v1");

    public async Task InitializeAsync()
    {
        _model = TestModels.LoadChat();
        Engine = new LlmEngine(_model, new EngineOptions { Threads = 1, MaxNumSeqs = 16 });
        Server = LoomServer.Create(Engine, new LoomServerOptions { Port = 0, ApiKey = ApiKey, ServedModelName = ModelName, MaxRequestBodyBytes = BodyLimit });
        await Server.StartAsync();
    }

    /// <summary>The official SDK pointed at this server, with retries off so error statuses surface as they are.</summary>
    public OpenAIClient Client(string key = ApiKey) => Clients.For(ApiBase, key);

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Engine.Dispose();
        _model?.Dispose();
    }
}

[CollectionDefinition("server")]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>;

internal static class Clients
{
    // .NET's handler drains an unfinished response body (up to 2 s) on dispose to reuse the connection; a client
    // that leaves mid-stream should close it instead, as a killed process or a browser tab would.
    private static readonly HttpClient Http = new(new SocketsHttpHandler { MaxResponseDrainSize = 0, ResponseDrainTimeout = TimeSpan.Zero });

    public static OpenAIClient For(Uri apiBase, string key) => new(new ApiKeyCredential(key), new OpenAIClientOptions
    {
        Endpoint = apiBase,
        RetryPolicy = new ClientRetryPolicy(0),
        NetworkTimeout = TimeSpan.FromSeconds(60),
        Transport = new HttpClientPipelineTransport(Http),
    });
}
