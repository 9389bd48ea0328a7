namespace Loom.Server.Protocol;

/// <summary>
/// <c>/v1/completions</c> answer (<c>object</c> = "text_completion"); streamed, each chunk has the same shape with
/// text deltas, and the usage chunk has no choices.
/// </summary>
public sealed record CompletionResponse(string Id, string Object, long Created, string Model, IReadOnlyList<CompletionChoice> Choices, Usage? Usage);

public sealed record CompletionChoice(int Index, string Text, CompletionLogprobs? Logprobs, string? FinishReason, string? StopReason = null);

/// <summary>The legacy completions log-probability layout: parallel arrays per token.</summary>
public sealed record CompletionLogprobs(
    IReadOnlyList<string> Tokens,
    IReadOnlyList<float?> TokenLogprobs,
    IReadOnlyList<Dictionary<string, float>?> TopLogprobs,
    IReadOnlyList<int> TextOffset);
