using System.Net;

namespace Loom.Server.Errors;

/// <summary>
/// A request that fails with an OpenAI-shaped error body: <c>{"error":{"message","type","param","code"}}</c>.
/// Thrown anywhere while handling a request; <see cref="ErrorHandling"/> turns it into the response.
/// </summary>
public sealed class OpenAiException(HttpStatusCode status, string message, string type, string? param = null, string? code = null)
    : Exception(message)
{
    public HttpStatusCode Status { get; } = status;
    /// <summary>OpenAI's error type, e.g. <c>invalid_request_error</c>.</summary>
    public string Type { get; } = type;
    /// <summary>The request parameter at fault, if any.</summary>
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    /// <summary>Seconds the client should wait before retrying (sent as Retry-After).</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>500: the engine failed this request (the failure is logged once by the host; others carry on).</summary>
    public static OpenAiException EngineFailure(string? message) =>
        new(HttpStatusCode.InternalServerError, $"The engine failed this request: {message ?? "unknown error"}", "server_error", null, "engine_error");

    /// <summary>400: the request is malformed or a parameter is wrong.</summary>
    public static OpenAiException BadRequest(string message, string? param = null, string? code = null) =>
        new(HttpStatusCode.BadRequest, message, "invalid_request_error", param, code);
}
