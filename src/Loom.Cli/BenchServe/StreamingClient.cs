using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Loom.Cli.BenchServe;

/// <summary>Sends streamed <c>/v1/completions</c> requests and times their server-sent events as they arrive.</summary>
internal sealed class StreamingClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly Uri _base, _completions;

    public StreamingClient(Uri baseUrl, string endpoint, string? apiKey)
    {
        _base = baseUrl;
        _completions = new Uri(baseUrl, endpoint.TrimStart('/'));
        // No pool limit (the benchmark sets concurrency, not the handler) and no client timeout (--max-seconds is).
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (apiKey is not null) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    /// <summary>The first model the server lists.</summary>
    public async Task<string> FirstModelAsync(CancellationToken ct)
    {
        HttpResponseMessage response;
        try { response = await _http.GetAsync(new Uri(_base, "v1/models"), ct); }
        catch (HttpRequestException e) { throw new InvalidOperationException($"cannot reach {_base}: {CliErrors.OneLine(e.Message)}"); }
        using var _ = response;
        string body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"GET /v1/models: {(int)response.StatusCode} {ErrorMessage(body)}");
        try
        {
            if (JsonNode.Parse(body)?["data"] is JsonArray { Count: > 0 } data && data[0]?["id"]?.GetValue<string>() is { } id) return id;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { }
        throw new InvalidOperationException("GET /v1/models listed no model; pass --model");
    }

    public async Task<RequestResult> SendAsync(string model, BenchPrompt prompt, bool ignoreEos, CancellationToken ct)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["prompt"] = prompt.Prompt.DeepClone(),
            ["max_tokens"] = prompt.OutputTokens,
            ["temperature"] = 0.0,
            ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
        };
        if (ignoreEos) body["ignore_eos"] = true;
        using var request = new HttpRequestMessage(HttpMethod.Post, _completions)
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };

        long start = Stopwatch.GetTimestamp();
        double Now() => Stopwatch.GetElapsedTime(start).TotalSeconds;
        double ttft = 0, last = 0;
        var itl = new List<double>();
        int chunks = 0;
        int? usageOutput = null, usagePrompt = null;
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode)
                return Failed($"{(int)response.StatusCode} {ErrorMessage(await response.Content.ReadAsStringAsync(ct))}");
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
            bool done = false;
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                // The timestamp comes first: parsing the chunk is the client's time, not the server's.
                double now = Now();
                if (!line.StartsWith("data:", StringComparison.Ordinal)) continue;
                var data = line.AsSpan(5).Trim();
                if (data.SequenceEqual("[DONE]")) { done = true; break; }
                using var doc = JsonDocument.Parse(data.ToString());
                var root = doc.RootElement;
                if (root.TryGetProperty("error", out var error))
                    return Failed(error.TryGetProperty("message", out var m) ? m.ToString() : error.ToString());
                if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0)
                {
                    if (chunks == 0) ttft = now;
                    else itl.Add(now - last);
                    last = now;
                    chunks++;
                }
                if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                {
                    if (usage.TryGetProperty("completion_tokens", out var c) && c.TryGetInt32(out int ct2)) usageOutput = ct2;
                    if (usage.TryGetProperty("prompt_tokens", out var p) && p.TryGetInt32(out int pt)) usagePrompt = pt;
                }
            }
            double e2el = Now();
            if (!done) return Failed("the stream ended without data: [DONE]");
            if (chunks == 0) return Failed("the stream carried no tokens");
            return new RequestResult
            {
                Success = true,
                TtftS = ttft,
                E2elS = e2el,
                Itl = itl,
                OutputTokens = usageOutput ?? chunks,
                PromptTokens = usagePrompt ?? prompt.InputTokens ?? 0,
            };
        }
        // Cancelling a stream mid-read can surface as the read's own error (the connection torn down under it), not
        // as a cancellation: once the limit has passed, either is the limit's doing.
        catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or HttpRequestException or IOException)
        {
            return new RequestResult { Cancelled = true, Error = "stopped at the time limit" };
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException)
        {
            return Failed(CliErrors.OneLine(e.Message));
        }

        RequestResult Failed(string error) => new() { Error = error, E2elS = Now() };
    }

    private static string ErrorMessage(string body)
    {
        try
        {
            if (JsonNode.Parse(body)?["error"]?["message"]?.GetValue<string>() is { } m) return m;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { }
        return CliErrors.OneLine(body.Length > 200 ? body[..200] : body);
    }

    public void Dispose() => _http.Dispose();
}
