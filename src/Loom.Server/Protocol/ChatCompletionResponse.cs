namespace Loom.Server.Protocol;

/// <summary><c>/v1/chat/completions</c> answer (<c>object</c> = "chat.completion").</summary>
public sealed record ChatCompletionResponse(string Id, string Object, long Created, string Model, IReadOnlyList<ChatChoice> Choices, Usage Usage);

public sealed record ChatChoice(int Index, ChatResponseMessage Message, ChatLogprobs? Logprobs, string? FinishReason, string? StopReason = null);

public sealed record ChatResponseMessage(string Role, string Content);

/// <summary>A streamed chunk (<c>object</c> = "chat.completion.chunk").</summary>
public sealed record ChatCompletionChunk(string Id, string Object, long Created, string Model, IReadOnlyList<ChatChunkChoice> Choices, Usage? Usage);

public sealed record ChatChunkChoice(int Index, ChatDelta Delta, ChatLogprobs? Logprobs, string? FinishReason, string? StopReason = null);

/// <summary>What a chunk adds: the role on a choice's first chunk, then content.</summary>
public sealed record ChatDelta(string? Role, string? Content);

/// <summary>Chat log-probabilities: one entry per generated token.</summary>
public sealed record ChatLogprobs(IReadOnlyList<ChatTokenLogprob> Content);

public sealed record ChatTokenLogprob(string Token, float Logprob, IReadOnlyList<int>? Bytes, IReadOnlyList<ChatTopLogprob> TopLogprobs);

public sealed record ChatTopLogprob(string Token, float Logprob, IReadOnlyList<int>? Bytes);
