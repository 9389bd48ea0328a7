using System.Net;
using System.Text.Json;
using Loom.Engine;
using Loom.Server.Protocol;
using Microsoft.AspNetCore.Http;

namespace Loom.Server.Errors;

/// <summary>
/// Middleware that answers every failure in OpenAI's error shape: <see cref="OpenAiException"/> as given,
/// malformed or mistyped JSON and <see cref="ArgumentException"/>s from parameter validation as 400 (naming the
/// parameter), a full waiting queue as 429 with Retry-After, an oversized body as 413, anything else as 500.
/// A failure after a streamed response has begun cannot change the status; the connection is cut instead.
/// </summary>
internal static class ErrorHandling
{
    public static async Task InvokeAsync(HttpContext ctx, RequestDelegate next)
    {
        try
        {
            await next(ctx);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody is left to answer.
        }
        catch (Exception e)
        {
            var error = Translate(e);
            if (ctx.Response.HasStarted) { ctx.Abort(); return; }
            await WriteAsync(ctx, error);
        }
    }

    /// <summary>Writes <paramref name="error"/> as the response.</summary>
    public static async Task WriteAsync(HttpContext ctx, OpenAiException error)
    {
        ctx.Response.StatusCode = (int)error.Status;
        if (error.RetryAfterSeconds is int s) ctx.Response.Headers.RetryAfter = s.ToString();
        ctx.Response.ContentType = "application/json";
        var body = new ErrorBody(new ErrorDetail(error.Message, error.Type, error.Param, error.Code));
        await JsonSerializer.SerializeAsync(ctx.Response.Body, body, Json.Context.ErrorBody, ctx.RequestAborted);
    }

    /// <summary>Maps an exception to the error the client sees.</summary>
    public static OpenAiException Translate(Exception e) => e switch
    {
        OpenAiException o => o,
        BadHttpRequestException { StatusCode: 413 } => new OpenAiException(HttpStatusCode.RequestEntityTooLarge,
            "The request body is larger than this server accepts.", "invalid_request_error", null, "request_too_large"),
        BadHttpRequestException b => new OpenAiException((HttpStatusCode)b.StatusCode, b.Message, "invalid_request_error"),
        JsonException j => OpenAiException.BadRequest(JsonMessage(j), ParamFromPath(j.Path), "invalid_json"),
        EngineOverloadedException o => new OpenAiException(HttpStatusCode.TooManyRequests,
            $"The server is busy ({o.Message}); retry later.", "rate_limit_error", null, "queue_full") { RetryAfterSeconds = 1 },
        ArgumentException a => OpenAiException.BadRequest(ArgumentMessage(a), a.ParamName, "invalid_value"),
        // System.Text.Json parses lazily: a string with invalid UTF-8 or a lone surrogate escape ("\ud800") only fails
        // when the endpoint reads it, as InvalidOperationException.
        InvalidOperationException { Source: { } source } when source.StartsWith("System.Text.Json", StringComparison.Ordinal) => OpenAiException.BadRequest(
            "The request body contains text that is not valid Unicode (invalid UTF-8, an overlong encoding or a lone surrogate).", null, "invalid_text"),
        _ => new OpenAiException(HttpStatusCode.InternalServerError, $"Internal error: {e.Message}", "server_error"),
    };

    private static string JsonMessage(JsonException j) =>
        j.Path is { Length: > 1 } path && ParamFromPath(path) is { } p
            ? $"'{p}' has the wrong type or an invalid value."
            : $"The request body is not valid JSON: {j.Message.Split(" Path:")[0]}";

    /// <summary><c>$.messages[2].content</c> names the parameter <c>messages</c>.</summary>
    private static string? ParamFromPath(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$") return null;
        var p = path.StartsWith("$.") ? path[2..] : path.TrimStart('$');
        int cut = p.IndexOfAny(['.', '[']);
        p = cut >= 0 ? p[..cut] : p;
        return p.Length == 0 ? null : p;
    }

    // ArgumentException appends " (Parameter 'x')"; the param field already says that.
    private static string ArgumentMessage(ArgumentException a)
    {
        var m = a.Message;
        int i = m.IndexOf(" (Parameter '", StringComparison.Ordinal);
        if (i >= 0) m = m[..i];
        if (a is ArgumentOutOfRangeException { ActualValue: not null } && m.Contains("\nActual value was", StringComparison.Ordinal))
            m = m[..m.IndexOf("\nActual value was", StringComparison.Ordinal)];
        return m;
    }
}
