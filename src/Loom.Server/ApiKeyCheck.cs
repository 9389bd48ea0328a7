using System.Net;
using System.Security.Cryptography;
using System.Text;
using Loom.Server.Errors;
using Microsoft.AspNetCore.Http;

namespace Loom.Server;

/// <summary>
/// Middleware requiring <c>Authorization: Bearer KEY</c> on the API routes (/v1/*, /tokenize, /detokenize);
/// /health and /metrics stay open for probes and scrapers, as in vLLM, and the web page (/ and /ui/*) for browsers:
/// it holds no data, and asks the user for the key its own API calls send.
/// </summary>
internal sealed class ApiKeyCheck(string key)
{
    private readonly byte[] _key = Encoding.UTF8.GetBytes(key);

    public async Task InvokeAsync(HttpContext ctx, RequestDelegate next)
    {
        var path = ctx.Request.Path;
        bool guarded = path.StartsWithSegments("/v1") || path.StartsWithSegments("/tokenize") || path.StartsWithSegments("/detokenize");
        if (guarded && !Authorized(ctx.Request.Headers.Authorization.ToString()))
        {
            await ErrorHandling.WriteAsync(ctx, new OpenAiException(HttpStatusCode.Unauthorized,
                "Missing or wrong API key: send 'Authorization: Bearer <key>'.", "invalid_request_error", null, "invalid_api_key"));
            return;
        }
        await next(ctx);
    }

    private bool Authorized(string header)
    {
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()), _key);
    }
}
