using Loom.Models.ChatTemplates;
using Loom.Server.Errors;
using Loom.Server.Generation;
using Loom.Server.Protocol;
using Loom.Server.Sse;
using Microsoft.AspNetCore.Http;

namespace Loom.Server.Endpoints;

/// <summary>
/// <c>POST /v1/chat/completions</c>: the messages rendered with the model's chat template, then one engine request
/// with n choices, answered whole or streamed (role first, then content deltas, then the finish reason).
/// </summary>
internal sealed class ChatCompletionsEndpoint(ServingContext s)
{
    public async Task HandleAsync(HttpContext ctx)
    {
        var req = await RequestReader.ReadAsync(ctx, Json.Context.ChatCompletionRequest);
        SamplingMapper.CheckModel(req.Model, s);
        var messages = Messages(req.Messages);
        int[] prompt = s.Chat.Encode(messages, req.AddGenerationPrompt ?? true);
        string limitName = req.MaxCompletionTokens is not null ? "max_completion_tokens" : "max_tokens";
        int maxTokens = SamplingMapper.MaxTokens(req.MaxCompletionTokens ?? req.MaxTokens, limitName, null, prompt.Length, s.ContextLength);
        if (req.TopLogprobs is int tl && req.Logprobs != true)
            throw OpenAiException.BadRequest("top_logprobs needs logprobs set to true.", "top_logprobs", "invalid_value");
        int? topLogprobs = req.Logprobs == true ? req.TopLogprobs ?? 0 : null;
        if (topLogprobs is < 0 or > Engine.Sampling.SamplingParams.MaxLogprobs)
            throw new ArgumentOutOfRangeException("top_logprobs", topLogprobs, $"top_logprobs must be in [0, {Engine.Sampling.SamplingParams.MaxLogprobs}]. Got {topLogprobs}.");
        var p = SamplingMapper.Map(req, maxTokens, topLogprobs);
        p = StructuredOutput.Apply(p, req, s.Engine);
        string id = $"chatcmpl-{Guid.NewGuid():N}";
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        await using var call = EngineCall.Submit(s.Engine, [prompt], p, id);
        var usage = new UsageCounter(1, p.N);
        if (req.Stream == true)
        {
            var sse = new SseWriter(ctx);
            await sse.StartAsync();
            // Every choice opens with the assistant role, as OpenAI's first chunk does.
            for (int i = 0; i < p.N; i++)
                await sse.WriteAsync(Chunk(id, created, new ChatChunkChoice(i, new ChatDelta("assistant", ""), null, null), null), Json.Context.ChatCompletionChunk);
            await foreach (var (_, o) in call.ReadAllAsync(ctx.RequestAborted))
            {
                usage.Add(0, o);
                if (o.FinishReason == Engine.FinishReason.Error) { await sse.WriteErrorAsync(OpenAiException.EngineFailure(o.StopReason)); break; }
                // A token whose text is held back still gets its (empty) chunk, as in CompletionsEndpoint.
                if (o.Delta.IsEmpty && o.TokenIds.IsEmpty && o.FinishReason is null && o.Logprobs is null) continue;
                var lp = o.Logprobs is { } l && topLogprobs is int k ? LogprobFormatter.Chat(s.Tokenizer, l, k) : null;
                var choice = new ChatChunkChoice(o.Index, new ChatDelta(null, o.Text), lp,
                    o.FinishReason is null ? null : SamplingMapper.Finish(o.FinishReason), o.StopReason);
                await sse.WriteAsync(Chunk(id, created, choice, null), Json.Context.ChatCompletionChunk);
            }
            if (req.StreamOptions?.IncludeUsage == true)
                await sse.WriteAsync(new ChatCompletionChunk(id, "chat.completion.chunk", created, s.ServedModelName, [], usage.ToUsage()), Json.Context.ChatCompletionChunk);
            await sse.WriteDoneAsync();
            return;
        }

        var choices = Enumerable.Range(0, p.N).Select(_ => new ChoiceAccumulator()).ToArray();
        await foreach (var (_, o) in call.ReadAllAsync(ctx.RequestAborted))
        {
            usage.Add(0, o);
            choices[o.Index].Add(o);
        }
        var result = choices.Select((c, i) =>
        {
            if (c.FinishReason == Engine.FinishReason.Error) throw OpenAiException.EngineFailure(c.StopReason);
            var lp = topLogprobs is int k ? LogprobFormatter.Chat(s.Tokenizer, c.Logprobs, k) : null;
            return new ChatChoice(i, new ChatResponseMessage("assistant", c.Text.ToString()), lp, SamplingMapper.Finish(c.FinishReason), c.StopReason);
        }).ToArray();
        await ctx.Response.WriteAsJsonAsync(new ChatCompletionResponse(id, "chat.completion", created, s.ServedModelName, result, usage.ToUsage()),
            Json.Context.ChatCompletionResponse, "application/json", ctx.RequestAborted);
    }

    private ChatCompletionChunk Chunk(string id, long created, ChatChunkChoice choice, Usage? usage) =>
        new(id, "chat.completion.chunk", created, s.ServedModelName, [choice], usage);

    /// <summary>Checks the messages and converts them for the template; "developer" is OpenAI's newer name for "system".</summary>
    internal static IReadOnlyList<ChatMessage> Messages(List<ChatMessageDto>? messages)
    {
        if (messages is null || messages.Count == 0)
            throw OpenAiException.BadRequest("messages must be a non-empty list.", "messages", "missing_required_parameter");
        return messages.Select(m =>
        {
            if (string.IsNullOrEmpty(m.Role)) throw OpenAiException.BadRequest("every message needs a role.", "messages", "invalid_value");
            return new ChatMessage(m.Role == "developer" ? "system" : m.Role, RequestReader.Content(m.Content));
        }).ToArray();
    }
}
