using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json;
using OpenAI;

namespace Loom.Server.Tests;

/// <summary>
/// Requests the SDK has no typed method for (legacy /v1/completions, n &gt; 1, deliberately bad bodies) sent
/// through the SDK's own pipeline, so authentication and transport are the SDK's.
/// </summary>
internal sealed class SdkRaw(OpenAIClient client, Uri apiBase)
{
    private readonly ClientPipeline _pipeline = client.GetChatClient("unused").Pipeline;

    public sealed record Reply(int Status, string Body, IReadOnlyDictionary<string, string> Headers)
    {
        public JsonElement Json => JsonDocument.Parse(Body).RootElement;
        public JsonElement Error => Json.GetProperty("error");
    }

    public Task<Reply> PostAsync(string path, object body) => PostAsync(path, JsonSerializer.Serialize(body));

    public async Task<Reply> PostAsync(string path, string json)
    {
        using var message = Create("POST", path, json);
        await _pipeline.SendAsync(message);
        var r = message.Response!;
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (k, v) in r.Headers) headers[k] = v;
        return new Reply(r.Status, r.Content.ToString(), headers);
    }

    public async Task<Reply> GetAsync(string path)
    {
        using var message = Create("GET", path, null);
        await _pipeline.SendAsync(message);
        return new Reply(message.Response!.Status, message.Response.Content.ToString(), new Dictionary<string, string>());
    }

    /// <summary>Posts a streaming request and returns the parsed <c>data:</c> events (the last is "[DONE]").</summary>
    public async Task<List<string>> StreamAsync(string path, object body)
    {
        using var message = Create("POST", path, JsonSerializer.Serialize(body));
        message.BufferResponse = false;
        await _pipeline.SendAsync(message);
        var r = message.Response!;
        if (r.Status != 200) throw new InvalidOperationException($"status {r.Status}: {r.Content}");
        Assert.StartsWith("text/event-stream", r.Headers.TryGetValue("Content-Type", out var ct) ? ct : "");
        var events = new List<string>();
        using var reader = new StreamReader(r.ContentStream!, Encoding.UTF8);
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0) continue;
            Assert.StartsWith("data: ", line);
            events.Add(line["data: ".Length..]);
        }
        return events;
    }

    /// <summary>Opens a streaming request and leaves it open; disposing it disconnects mid-stream.</summary>
    public async Task<OpenStream> OpenStreamAsync(string path, object body)
    {
        var message = Create("POST", path, JsonSerializer.Serialize(body));
        message.BufferResponse = false;
        await _pipeline.SendAsync(message);
        if (message.Response!.Status != 200) throw new InvalidOperationException($"status {message.Response.Status}");
        return new OpenStream(message);
    }

    /// <summary>A stream being read event by event.</summary>
    public sealed class OpenStream(PipelineMessage message) : IDisposable
    {
        private readonly StreamReader _reader = new(message.Response!.ContentStream!, Encoding.UTF8);

        /// <summary>The next <c>data:</c> payload, or null at the end.</summary>
        public async Task<string?> ReadEventAsync()
        {
            while (await _reader.ReadLineAsync() is { } line)
                if (line.StartsWith("data: ", StringComparison.Ordinal)) return line["data: ".Length..];
            return null;
        }

        public void Dispose()
        {
            _reader.Dispose();
            message.Dispose();
        }
    }

    private PipelineMessage Create(string method, string path, string? json)
    {
        var message = _pipeline.CreateMessage();
        message.Request.Method = method;
        message.Request.Uri = path.StartsWith('/') ? new Uri(apiBase, path) : new Uri(apiBase.ToString().TrimEnd('/') + "/" + path);
        if (json is not null)
        {
            message.Request.Headers.Set("Content-Type", "application/json");
            message.Request.Content = BinaryContent.Create(BinaryData.FromString(json));
        }
        return message;
    }
}
