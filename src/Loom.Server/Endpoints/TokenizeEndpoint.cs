using Loom.Server.Errors;
using Loom.Server.Protocol;
using Microsoft.AspNetCore.Http;

namespace Loom.Server.Endpoints;

/// <summary><c>POST /tokenize</c> and <c>POST /detokenize</c>, in vLLM's shapes.</summary>
internal sealed class TokenizeEndpoint(ServingContext s)
{
    public async Task TokenizeAsync(HttpContext ctx)
    {
        var req = await RequestReader.ReadAsync(ctx, Json.Context.TokenizeRequest);
        SamplingMapper.CheckModel(req.Model, s);
        int[] tokens;
        if (req.Messages is not null)
        {
            if (req.Prompt is not null) throw OpenAiException.BadRequest("give prompt or messages, not both.", "prompt");
            tokens = s.Chat.Encode(MessageReader.Messages(req.Messages), req.AddGenerationPrompt ?? true);
        }
        else
        {
            if (req.Prompt is null) throw OpenAiException.BadRequest("prompt (or messages) is required.", "prompt", "missing_required_parameter");
            tokens = s.Tokenizer.Encode(req.Prompt, addSpecial: req.AddSpecialTokens ?? true, parseSpecial: true);
        }
        await ctx.Response.WriteAsJsonAsync(new TokenizeResponse(tokens.Length, s.ContextLength, tokens),
            Json.Context.TokenizeResponse, "application/json", ctx.RequestAborted);
    }

    public async Task DetokenizeAsync(HttpContext ctx)
    {
        var req = await RequestReader.ReadAsync(ctx, Json.Context.DetokenizeRequest);
        SamplingMapper.CheckModel(req.Model, s);
        if (req.Tokens is null) throw OpenAiException.BadRequest("tokens is required.", "tokens", "missing_required_parameter");
        foreach (int id in req.Tokens)
            if ((uint)id >= (uint)s.Tokenizer.VocabSize)
                throw OpenAiException.BadRequest($"token id {id} is outside the vocabulary (0..{s.Tokenizer.VocabSize - 1}).", "tokens", "invalid_value");
        await ctx.Response.WriteAsJsonAsync(new DetokenizeResponse(s.Tokenizer.Decode(req.Tokens)),
            Json.Context.DetokenizeResponse, "application/json", ctx.RequestAborted);
    }
}
