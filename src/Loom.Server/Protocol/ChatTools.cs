using System.Text.Json;
using System.Text.Json.Serialization;

namespace Loom.Server.Protocol;

/// <summary>One entry of <c>tools</c>: <c>{"type": "function", "function": {...}}</c>.</summary>
public sealed class ToolDto
{
    public string? Type { get; set; }
    public FunctionDto? Function { get; set; }
}

/// <summary>A function the model may call; <c>parameters</c> is a JSON schema for its arguments.</summary>
public sealed class FunctionDto
{
    public string? Name { get; set; }
    public string? Description { get; set; }
    public JsonElement Parameters { get; set; }
    public bool? Strict { get; set; }
}

/// <summary>A call in an assistant message of the conversation (or of the answer).</summary>
public sealed class ToolCallDto
{
    public string? Id { get; set; }
    public string? Type { get; set; }
    public FunctionCallDto? Function { get; set; }
}

/// <summary>The function called and its arguments, as JSON text.</summary>
public sealed class FunctionCallDto
{
    public string? Name { get; set; }
    public string? Arguments { get; set; }
}

/// <summary>A call in the answer's <c>message.tool_calls</c>.</summary>
public sealed record ResponseToolCall(string Id, string Type, ResponseFunctionCall Function);

public sealed record ResponseFunctionCall(string Name, string Arguments);

/// <summary>
/// A piece of a call in a chunk's <c>delta.tool_calls</c>: the first piece of call <see cref="Index"/> has its id,
/// type and name, later ones only more of the arguments text.
/// </summary>
public sealed record ChunkToolCall(int Index, string? Id, string? Type, ChunkFunctionCall Function);

public sealed record ChunkFunctionCall(string? Name, string? Arguments);
