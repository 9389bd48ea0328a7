using System.Text.Json;

namespace Loom.Server.Protocol;

/// <summary>Body of <c>POST /v1/chat/completions</c>.</summary>
public sealed class ChatCompletionRequest : SamplingRequest
{
    public List<ChatMessageDto>? Messages { get; set; }
    /// <summary>OpenAI's newer name for max_tokens; wins when both are given.</summary>
    public int? MaxCompletionTokens { get; set; }
    public bool? Logprobs { get; set; }
    public int? TopLogprobs { get; set; }
    /// <summary>vLLM extension: end the rendered prompt with the assistant header (default true).</summary>
    public bool? AddGenerationPrompt { get; set; }
    public List<ToolDto>? Tools { get; set; }
    /// <summary>"none", "auto", "required", or <c>{"type": "function", "function": {"name": …}}</c>.</summary>
    public JsonElement ToolChoice { get; set; }
    public bool? ParallelToolCalls { get; set; }
}

/// <summary>One message: content is a string or a list of parts (<c>{"type":"text","text":...}</c>).</summary>
public sealed class ChatMessageDto
{
    public string? Role { get; set; }
    public JsonElement Content { get; set; }
    public string? Name { get; set; }
    /// <summary>An assistant message's calls (its content may then be null).</summary>
    public List<ToolCallDto>? ToolCalls { get; set; }
    /// <summary>A tool message: the call it answers.</summary>
    public string? ToolCallId { get; set; }
}
