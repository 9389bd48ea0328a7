using Loom.Server.Errors;
using Loom.Server.Generation;
using Loom.Server.Protocol;
using Loom.Server.Sse;
using Microsoft.AspNetCore.Http;

namespace Loom.Server.Endpoints;

/// <summary>
/// <c>POST /v1/chat/completions</c>: the messages (and tools) rendered with the model's chat template, then one engine
/// request with n choices, answered whole or streamed (role first, then content or tool-call deltas, then the finish
/// reason). With tools, each choice's text goes through the template format's tool-call parser.
/// </summary>
internal sealed class ChatCompletionsEndpoint(ServingContext s)
{
    public async Task HandleAsync(HttpContext ctx)
    {
        var req = await RequestReader.ReadAsync(ctx, Json.Context.ChatCompletionRequest);
        SamplingMapper.CheckModel(req.Model, s);
        var messages = MessageReader.Messages(req.Messages);
        var tools = ToolRequestReader.Plan(req, s.Chat.ToolFormat);
        string rendered = s.Chat.Render(messages, req.AddGenerationPrompt ?? true, tools?.TemplateTools);
        int[] prompt = s.Chat.Tokenize(rendered);
        // A reasoning template's answers carry their thinking apart (reasoning_content), as vLLM's reasoning parsers do.
        bool reasons = s.Chat.Reasons, opened = reasons && ReasoningSplitter.PromptOpensReasoning(rendered);
        string limitName = req.MaxCompletionTokens is not null ? "max_completion_tokens" : "max_tokens";
        int maxTokens = SamplingMapper.MaxTokens(req.MaxCompletionTokens ?? req.MaxTokens, limitName, null, prompt.Length, s.ContextLength);
        if (req.TopLogprobs is int tl && req.Logprobs != true)
            throw OpenAiException.BadRequest("top_logprobs needs logprobs set to true.", "top_logprobs", "invalid_value");
        int? topLogprobs = req.Logprobs == true ? req.TopLogprobs ?? 0 : null;
        if (topLogprobs is < 0 or > Engine.Sampling.SamplingParams.MaxLogprobs)
            throw new ArgumentOutOfRangeException("top_logprobs", topLogprobs, $"top_logprobs must be in [0, {Engine.Sampling.SamplingParams.MaxLogprobs}]. Got {topLogprobs}.");
        var p = SamplingMapper.Map(req, maxTokens, topLogprobs);
        p = StructuredOutput.Apply(p, req, s.Engine);
        // A forced call (tool_choice "required" or a named function) is constrained to the call's JSON, which the
        // parsers then read bare.
        if (tools is not null && Tools.ToolConstraint.Schema(tools) is { } toolSchema)
        {
            if (p.Constraint is not null)
                throw OpenAiException.BadRequest("A forced tool call (tool_choice 'required' or a function) cannot be combined with another output constraint.", "tool_choice", "invalid_value");
            var constraint = Engine.Structured.Constraint.JsonSchema(toolSchema.ToJsonString());
            try { s.Engine.Constraints.Compile(constraint); }
            catch (Engine.Structured.ConstraintException e) { throw e.WithField("tools"); }
            p = p with { Constraint = constraint };
            tools = tools with { Constrained = true };
        }
        // Strict tools under "auto": text, or calls in the template's format whose arguments follow their schemas.
        else if (tools is not null && Tools.TextOrCallGrammar.Gbnf(tools, s.Tokenizer) is { } textOrCall)
        {
            if (p.Constraint is not null)
                throw OpenAiException.BadRequest("Strict tools under tool_choice 'auto' cannot be combined with another output constraint.", "tools", "invalid_value");
            var constraint = Engine.Structured.Constraint.Grammar(textOrCall);
            try { s.Engine.Constraints.Compile(constraint); }
            catch (Engine.Structured.ConstraintException e) { throw e.WithField("tools"); }
            p = p with { Constraint = constraint };
        }
        p = p with { SkipSpecialTokens = tools is not { KeepsSpecialTokens: true } };
        string id = $"chatcmpl-{Guid.NewGuid():N}";
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        await using var call = EngineCall.Submit(s.Engine, [prompt], p, id);
        var usage = new UsageCounter(1, p.N);
        if (req.Stream == true)
        {
            var deltas = Enumerable.Range(0, p.N).Select(_ => new ChatDeltaBuilder(tools is { ParsesCalls: true } ? tools.NewParser() : null, reasons ? new ReasoningSplitter(opened) : null)).ToArray();
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
                var d = deltas[o.Index];
                var delta = d.Next(o.Text, o.FinishReason is not null);
                var choice = new ChatChunkChoice(o.Index, delta, lp, o.FinishReason is null ? null : Finish(o.FinishReason, d.HasCalls), o.StopReason);
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
            var message = ChatDeltaBuilder.Message(tools, c.Text.ToString(), out bool called, reasons ? new ReasoningSplitter(opened) : null);
            return new ChatChoice(i, message, lp, Finish(c.FinishReason, called), c.StopReason);
        }).ToArray();
        await ctx.Response.WriteAsJsonAsync(new ChatCompletionResponse(id, "chat.completion", created, s.ServedModelName, result, usage.ToUsage()),
            Json.Context.ChatCompletionResponse, "application/json", ctx.RequestAborted);
    }

    private ChatCompletionChunk Chunk(string id, long created, ChatChunkChoice choice, Usage? usage) =>
        new(id, "chat.completion.chunk", created, s.ServedModelName, [choice], usage);

    /// <summary>A choice that called tools and stopped by itself finishes with "tool_calls", as OpenAI's do.</summary>
    private static string Finish(Engine.FinishReason? r, bool calledTools) =>
        calledTools && r == Engine.FinishReason.Stop ? "tool_calls" : SamplingMapper.Finish(r);
}
