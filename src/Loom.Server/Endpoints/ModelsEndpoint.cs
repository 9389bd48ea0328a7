using Loom.Server.Errors;
using Loom.Server.Protocol;
using Microsoft.AspNetCore.Http;

namespace Loom.Server.Endpoints;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c>: the served model, under its served name.</summary>
internal sealed class ModelsEndpoint(ServingContext s)
{
    private ModelCard Card => new(s.ServedModelName, "model", s.Created, "loom", s.ContextLength);

    public Task ListAsync(HttpContext ctx) =>
        ctx.Response.WriteAsJsonAsync(new ModelList("list", [Card]), Json.Context.ModelList, "application/json", ctx.RequestAborted);

    public Task GetAsync(HttpContext ctx)
    {
        var id = ctx.Request.RouteValues["id"] as string;
        if (id != s.ServedModelName)
            throw new OpenAiException(System.Net.HttpStatusCode.NotFound, $"The model '{id}' does not exist.", "invalid_request_error", "model", "model_not_found");
        return ctx.Response.WriteAsJsonAsync(Card, Json.Context.ModelCard, "application/json", ctx.RequestAborted);
    }
}
