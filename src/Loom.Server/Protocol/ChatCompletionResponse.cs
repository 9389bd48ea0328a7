using System.Text.Json.Serialization;

namespace Loom.Server.Protocol;

/// <summary><c>/v1/chat/completions</c> answer (<c>object</c> = "chat.completion").</summary>
public sealed record ChatCompletionResponse(string Id, string Object, long Created, string Model, IReadOnlyList<ChatChoice> Choices, Usage Usage);

public sealed record ChatChoice(int Index, ChatResponseMessage Message, ChatLogprobs? Logprobs, string? FinishReason, string? StopReason = null);

/// <summary>The answer; content is written as null (not left out) when the model only called tools, as OpenAI does.</summary>
public sealed record ChatResponseMessage(string Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Content,
    IReadOnlyList<ResponseToolCall>? ToolCalls = null,
    string? ReasoningContent = null);

/// <summary>A streamed chunk (<c>object</c> = "chat.completion.chunk").</summary>
public sealed record ChatCompletionChunk(string Id, string Object, long Created, string Model, IReadOnlyList<ChatChunkChoice> Choices, Usage? Usage);

public sealed record ChatChunkChoice(int Index, ChatDelta Delta, ChatLogprobs? Logprobs, string? FinishReason, string? StopReason = null);

/// <summary>What a chunk adds: the role on a choice's first chunk, then content or pieces of tool calls.</summary>
public sealed record ChatDelta(string? Role, string? Content, IReadOnlyList<ChunkToolCall>? ToolCalls = null, string? ReasoningContent = null);

/// <summary>Chat log-probabilities: one entry per generated token.</summary>
public sealed record ChatLogprobs(IReadOnlyList<ChatTokenLogprob> Content);

public sealed record ChatTokenLogprob(string Token, float Logprob, IReadOnlyList<int>? Bytes, IReadOnlyList<ChatTopLogprob> TopLogprobs);

public sealed record ChatTopLogprob(string Token, float Logprob, IReadOnlyList<int>? Bytes);
