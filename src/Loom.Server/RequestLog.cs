using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Loom.Server;

/// <summary>One log line per request: method, path, status and time taken (streams: until the last event).</summary>
internal static class RequestLog
{
    public static Func<HttpContext, RequestDelegate, Task> Create(ILogger logger) => async (ctx, next) =>
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            await next(ctx);
        }
        finally
        {
            string status = ctx.RequestAborted.IsCancellationRequested ? "client left" : ctx.Response.StatusCode.ToString();
            logger.LogInformation("{Method} {Path} {Status} {Ms:F0} ms", ctx.Request.Method, ctx.Request.Path, status,
                Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
    };
}
