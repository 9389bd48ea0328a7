using System.Net;

namespace Loom.Cli.BenchServe;

/// <summary>What one <c>loom bench serve</c> run sends, how fast, and for how long.</summary>
internal sealed record ServeBenchSettings
{
    public required Uri BaseUrl { get; init; }
    /// <summary>The completions path under <see cref="BaseUrl"/>, without its leading slash.</summary>
    public string Endpoint { get; init; } = "v1/completions";
    /// <summary>Null: the first model of <c>GET /v1/models</c>.</summary>
    public string? Model { get; init; }
    public string? ApiKey { get; init; }
    public required IReadOnlyList<BenchPrompt> Prompts { get; init; }
    /// <summary>The untimed request sent first; null sends the first prompt, as vLLM does.</summary>
    public BenchPrompt? TestPrompt { get; init; }
    /// <summary>Requests per second; infinity sends every request at once (then only the concurrency limit paces them).</summary>
    public double RequestRate { get; init; } = double.PositiveInfinity;
    /// <summary>Poisson arrivals (exponential gaps) when true; evenly spaced at <see cref="RequestRate"/> otherwise.</summary>
    public bool Poisson { get; init; } = true;
    /// <summary>
    /// vLLM's burstiness: gaps are gamma-distributed with this shape and mean 1/rate; 1 is Poisson, below 1 burstier,
    /// above 1 more even.
    /// </summary>
    public double Burstiness { get; init; } = 1;
    /// <summary>Most requests in flight; null is no limit.</summary>
    public int? MaxConcurrency { get; init; }
    public bool IgnoreEos { get; init; }
    public int Seed { get; init; }
    public TimeSpan MaxDuration { get; init; } = TimeSpan.FromMinutes(10);
    public double? SloTtftMs { get; init; }
    public double? SloTpotMs { get; init; }
    public double? SloE2elMs { get; init; }

    /// <summary>
    /// A benchmark is a load generator: pointed at someone else's machine by a typo it is a small denial of service,
    /// so anything but loopback takes an explicit flag.
    /// </summary>
    public static Uri CheckBaseUrl(string text, bool allowRemote)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"--base-url '{text}' is not an http or https URL");
        bool loopback = uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
        if (!loopback && !allowRemote)
            throw new ArgumentException($"--base-url {uri.Host} is not a loopback address; pass --allow-remote to benchmark another machine");
        // Paths are relative to the base: "v1/completions" must land under it, so it ends in a slash.
        return uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
    }
}
