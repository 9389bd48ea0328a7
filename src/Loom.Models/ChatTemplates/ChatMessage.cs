namespace Loom.Models.ChatTemplates;

/// <summary>
/// One turn of a conversation as a chat template sees it: <c>message.role</c>, <c>message.content</c> and, where set,
/// <c>message.tool_calls</c>, <c>message.tool_call_id</c> and <c>message.name</c> (keys that are not set are not
/// defined, as in the dicts transformers passes, since templates test <c>message.tool_calls is defined</c>).
/// </summary>
/// <param name="Role">"system", "user", "assistant", "tool", ...</param>
/// <param name="Content">The text of the turn; null for an assistant turn that only calls tools (templates test <c>content is none</c>).</param>
public sealed record ChatMessage(string Role, string? Content)
{
    /// <summary>An assistant turn's calls, rendered as <c>{id, type: "function", function: {name, arguments}}</c>.</summary>
    public IReadOnlyList<ChatToolCall>? ToolCalls { get; init; }

    /// <summary>A tool turn's answer to the call with this id.</summary>
    public string? ToolCallId { get; init; }

    /// <summary>The speaker's name; for a tool turn, the function's name (Hermes-style templates require it).</summary>
    public string? Name { get; init; }
}

/// <summary>
/// A function call in an assistant turn. <paramref name="Arguments"/> is the JSON text of the arguments; templates get
/// it parsed (a dict), as vLLM and transformers pass it, because they write it with <c>tojson</c>.
/// </summary>
public sealed record ChatToolCall(string Id, string Name, string Arguments);
