namespace Loom.Server;

/// <summary>How <see cref="LoomServer"/> listens and what it accepts.</summary>
public sealed record LoomServerOptions
{
    /// <summary>Address to listen on: an IP address, or "localhost".</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>TCP port; 0 picks a free one (see <see cref="LoomServer.BaseAddress"/>).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>When set, /v1/*, /tokenize and /detokenize need <c>Authorization: Bearer KEY</c>.</summary>
    public string? ApiKey { get; init; }
    /// <summary>The name clients send as <c>model</c> and /v1/models lists; null uses the model's own name.</summary>
    public string? ServedModelName { get; init; }
    /// <summary>Chat template source (Jinja) to use instead of the model's own; null uses the model's.</summary>
    public string? ChatTemplate { get; init; }
    /// <summary>Largest request body accepted; larger ones get 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 4 << 20;
    /// <summary>Log each request to the console (the CLI turns this on; tests leave it off).</summary>
    public bool Logging { get; init; }
}
