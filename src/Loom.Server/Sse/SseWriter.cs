using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace Loom.Server.Sse;

/// <summary>
/// Server-sent events as OpenAI streams them: each event is one <c>data: {json}</c> line and a blank line,
/// flushed at once, and the stream ends with <c>data: [DONE]</c>.
/// </summary>
internal sealed class SseWriter
{
    private static readonly byte[] Prefix = "data: "u8.ToArray();
    private static readonly byte[] Terminator = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();
    private readonly HttpResponse _response;
    private readonly CancellationToken _ct;

    public SseWriter(HttpContext ctx)
    {
        _response = ctx.Response;
        _ct = ctx.RequestAborted;
    }

    /// <summary>Sends the headers; after this the status can no longer change.</summary>
    public async Task StartAsync()
    {
        _response.StatusCode = 200;
        _response.ContentType = "text/event-stream; charset=utf-8";
        _response.Headers.CacheControl = "no-cache";
        _response.Headers["X-Accel-Buffering"] = "no";
        await _response.StartAsync(_ct);
    }

    public async Task WriteAsync<T>(T value, JsonTypeInfo<T> type)
    {
        var body = _response.Body;
        await body.WriteAsync(Prefix, _ct);
        await JsonSerializer.SerializeAsync(body, value, type, _ct);
        await body.WriteAsync(Terminator, _ct);
        await body.FlushAsync(_ct);
    }

    /// <summary>
    /// A failure after the stream began (the status is already 200): one <c>data: {"error": …}</c> event in OpenAI's
    /// error shape, as vLLM sends, before the stream ends.
    /// </summary>
    public Task WriteErrorAsync(Errors.OpenAiException error) =>
        WriteAsync(new Errors.ErrorBody(new Errors.ErrorDetail(error.Message, error.Type, error.Param, error.Code)), Protocol.Json.Context.ErrorBody);

    public async Task WriteDoneAsync()
    {
        await _response.Body.WriteAsync(Done, _ct);
        await _response.Body.FlushAsync(_ct);
    }
}
