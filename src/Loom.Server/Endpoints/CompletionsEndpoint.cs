using Loom.Server.Errors;
using Loom.Server.Generation;
using Loom.Server.Protocol;
using Loom.Server.Sse;
using Microsoft.AspNetCore.Http;

namespace Loom.Server.Endpoints;

/// <summary>
/// <c>POST /v1/completions</c>: one engine request per prompt, n choices each (choice index = prompt × n + i),
/// answered whole or streamed as server-sent events.
/// </summary>
internal sealed class CompletionsEndpoint(ServingContext s)
{
    public async Task HandleAsync(HttpContext ctx)
    {
        var req = await RequestReader.ReadAsync(ctx, Json.Context.CompletionRequest);
        SamplingMapper.CheckModel(req.Model, s);
        var prompts = RequestReader.Prompts(req.Prompt, text => s.Tokenizer.Encode(text, addSpecial: true, parseSpecial: true));
        bool echo = req.Echo ?? false;
        if (echo && req.Logprobs is not null)
            throw OpenAiException.BadRequest("echo with logprobs needs prompt log-probabilities, which this server does not compute.", "echo", "unsupported");
        int maxTokens = prompts.Min(pr => SamplingMapper.MaxTokens(req.MaxTokens, "max_tokens", 16, pr.Tokens.Length, s.ContextLength));
        var p = SamplingMapper.Map(req, maxTokens, req.Logprobs);
        p = StructuredOutput.Apply(p, req, s.Engine);
        string id = $"cmpl-{Guid.NewGuid():N}";
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        // Echoed prompts are shown as the model would print them (prompts given as tokens included).
        var promptTexts = echo ? prompts.Select(pr => pr.Text ?? s.Tokenizer.Decode(pr.Tokens)).ToArray() : null;

        await using var call = EngineCall.Submit(s.Engine, prompts.Select(pr => pr.Tokens).ToArray(), p, id);
        var usage = new UsageCounter(prompts.Length, p.N);
        if (req.Stream == true)
        {
            var sse = new SseWriter(ctx);
            await sse.StartAsync();
            var started = new bool[prompts.Length * p.N];
            var offsets = new int[prompts.Length * p.N];
            await foreach (var (prompt, o) in call.ReadAllAsync(ctx.RequestAborted))
            {
                usage.Add(prompt, o);
                if (o.FinishReason == Engine.FinishReason.Error) { await sse.WriteErrorAsync(OpenAiException.EngineFailure(o.StopReason)); break; }
                int index = prompt * p.N + o.Index;
                string text = o.Text;
                if (!started[index]) { started[index] = true; if (promptTexts is not null) text = promptTexts[prompt] + text; }
                // A token whose text is held back (part of a UTF-8 character, or maybe a stop string) still gets its
                // chunk, as vLLM streams it: clients time tokens by chunks, and a silent stream looks stalled.
                if (text.Length == 0 && o.TokenIds.IsEmpty && o.FinishReason is null && o.Logprobs is null) continue;
                var lp = o.Logprobs is { } l ? LogprobFormatter.Completion(s.Tokenizer, l, offsets[index]) : null;
                if (lp is not null) offsets[index] += lp.Tokens.Sum(t => t.Length);
                var choice = new CompletionChoice(index, text, lp, o.FinishReason is null ? null : SamplingMapper.Finish(o.FinishReason), o.StopReason);
                await sse.WriteAsync(new CompletionResponse(id, "text_completion", created, s.ServedModelName, [choice], null), Json.Context.CompletionResponse);
            }
            if (req.StreamOptions?.IncludeUsage == true)
                await sse.WriteAsync(new CompletionResponse(id, "text_completion", created, s.ServedModelName, [], usage.ToUsage()), Json.Context.CompletionResponse);
            await sse.WriteDoneAsync();
            return;
        }

        var choices = Enumerable.Range(0, prompts.Length * p.N).Select(_ => new ChoiceAccumulator()).ToArray();
        await foreach (var (prompt, o) in call.ReadAllAsync(ctx.RequestAborted))
        {
            usage.Add(prompt, o);
            choices[prompt * p.N + o.Index].Add(o);
        }
        var result = choices.Select((c, i) =>
        {
            string prefix = promptTexts?[i / p.N] ?? "";
            if (c.FinishReason == Engine.FinishReason.Error) throw OpenAiException.EngineFailure(c.StopReason);
            var lp = p.Logprobs is null ? null : LogprobFormatter.Completion(s.Tokenizer, c.Logprobs, prefix.Length);
            return new CompletionChoice(i, prefix + c.Text, lp, SamplingMapper.Finish(c.FinishReason), c.StopReason);
        }).ToArray();
        await ctx.Response.WriteAsJsonAsync(new CompletionResponse(id, "text_completion", created, s.ServedModelName, result, usage.ToUsage()),
            Json.Context.CompletionResponse, "application/json", ctx.RequestAborted);
    }
}
