using System.Text;

namespace Loom.Engine;

/// <summary>A finished request, collected from its output stream: per choice, the tokens, the text and why it ended.</summary>
public sealed record GenerationResult(string RequestId, int[] PromptIds, IReadOnlyList<GenerationChoice> Choices)
{
    /// <summary>Reads a request's outputs to the end.</summary>
    public static async Task<GenerationResult> CollectAsync(Request request, CancellationToken ct = default)
    {
        int n = request.Params.N;
        var ids = Enumerable.Range(0, n).Select(_ => new List<int>()).ToArray();
        var text = Enumerable.Range(0, n).Select(_ => new StringBuilder()).ToArray();
        var logprobs = Enumerable.Range(0, n).Select(_ => new List<TokenLogprob>()).ToArray();
        var finish = new FinishReason?[n];
        var stop = new string?[n];
        int cached = 0;
        await foreach (var o in request.Outputs(ct))
        {
            ids[o.Index].AddRange(o.TokenIds.Span);
            text[o.Index].Append(o.Delta);
            if (o.Logprobs is not null) logprobs[o.Index].AddRange(o.Logprobs);
            if (o.FinishReason is not null) { finish[o.Index] = o.FinishReason; stop[o.Index] = o.StopReason; }
            cached = Math.Max(cached, o.CachedPromptTokens);
        }
        var choices = Enumerable.Range(0, n)
            .Select(i => new GenerationChoice(i, ids[i].ToArray(), text[i].ToString(), finish[i] ?? FinishReason.Abort, stop[i], logprobs[i]))
            .ToArray();
        return new GenerationResult(request.Id, request.Prompt, choices) { CachedPromptTokens = cached };
    }

    /// <summary>Prompt tokens served from the prefix cache.</summary>
    public int CachedPromptTokens { get; init; }
}

/// <summary>One of a request's n generated sequences.</summary>
public sealed record GenerationChoice(int Index, int[] TokenIds, string Text, FinishReason FinishReason, string? StopReason, IReadOnlyList<TokenLogprob> Logprobs);
