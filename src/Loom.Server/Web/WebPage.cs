using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Loom.Server.Web;

/// <summary>
/// <c>GET /</c> and <c>GET /ui/{file}</c>: the chat and engine-state page, its script and its style sheet, embedded in
/// this assembly so that a bare <c>loom serve</c> needs no files beside it and no network. The page talks to the
/// server only through the public API (/v1/models, /v1/chat/completions) and /metrics, with the API key the user
/// gives it; the page itself holds nothing secret, so it stays outside <see cref="ApiKeyCheck"/>.
/// </summary>
internal static class WebPage
{
    private sealed record Asset(byte[] Bytes, string ContentType, string ETag);

    private static readonly Lazy<Dictionary<string, Asset>> Assets = new(Load);

    // The page runs only its own script and style and talks only to this origin.
    private const string Policy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static void Map(WebApplication app)
    {
        app.MapGet("/", ctx => ServeAsync(ctx, "index.html"));
        app.MapGet("/ui/{name}", ctx => ServeAsync(ctx, ctx.Request.RouteValues["name"] as string ?? ""));
    }

    private static Task ServeAsync(HttpContext ctx, string name)
    {
        if (!Assets.Value.TryGetValue(name, out var asset))
            throw new Errors.OpenAiException(System.Net.HttpStatusCode.NotFound, $"No route for GET {ctx.Request.Path}.", "invalid_request_error", null, "not_found");
        var response = ctx.Response;
        // Revalidated on every load, so a restarted server with a newer page is never hidden behind a stale cache.
        response.Headers.CacheControl = "no-cache";
        response.Headers.ETag = asset.ETag;
        response.Headers.XContentTypeOptions = "nosniff";
        if (name == "index.html") response.Headers.ContentSecurityPolicy = Policy;
        if (ctx.Request.Headers.IfNoneMatch == asset.ETag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Bytes.Length;
        return response.Body.WriteAsync(asset.Bytes, ctx.RequestAborted).AsTask();
    }

    private static Dictionary<string, Asset> Load()
    {
        var assembly = typeof(WebPage).Assembly;
        const string prefix = "web/";
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            string name = resource[prefix.Length..];
            string type = Path.GetExtension(name) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                _ => "application/octet-stream",
            };
            assets[name] = new Asset(bytes, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 8))}\"");
        }
        return assets;
    }
}
