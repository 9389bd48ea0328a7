using System.Text.Json;
using Loom.Server.Tools;

namespace Loom.Server.Protocol;

/// <summary>
/// Reads <c>tools</c>, <c>tool_choice</c> and <c>parallel_tool_calls</c> into a <see cref="ToolPlan"/>; a malformed
/// one is an <see cref="ArgumentException"/> naming the field (a 400).
/// </summary>
internal static class ToolRequestReader
{
    public static ToolPlan? Plan(ChatCompletionRequest req, ToolCallFormat? templateFormat)
    {
        if (req.Tools is { Count: 0 }) throw new ArgumentException("tools must not be an empty list; leave it out instead.", "tools");
        var tools = req.Tools?.Select(Tool).ToArray();
        return ToolPlan.Create(tools, Choice(req.ToolChoice), req.ParallelToolCalls, templateFormat);
    }

    private static ToolDefinition Tool(ToolDto? t, int i)
    {
        string at = $"tools[{i}]";
        if (t is null) throw new ArgumentException($"{at} must be an object.", at);
        if (t.Type != "function") throw new ArgumentException($"{at}.type must be 'function'. Got '{t.Type}'.", $"{at}.type");
        var f = t.Function ?? throw new ArgumentException($"{at}.function is required.", $"{at}.function");
        if (string.IsNullOrEmpty(f.Name)) throw new ArgumentException($"{at}.function.name is required.", $"{at}.function.name");
        JsonElement? parameters = f.Parameters.ValueKind switch
        {
            JsonValueKind.Undefined or JsonValueKind.Null => null,
            JsonValueKind.Object => f.Parameters.Clone(),
            _ => throw new ArgumentException($"{at}.function.parameters must be a JSON schema object.", $"{at}.function.parameters"),
        };
        if (parameters is { } p && p.TryGetProperty("type", out var type) && !(type.ValueKind == JsonValueKind.String && type.GetString() == "object"))
            throw new ArgumentException($"{at}.function.parameters must describe an object (type 'object'): the arguments are named.", $"{at}.function.parameters");
        return new ToolDefinition(f.Name, f.Description, parameters, f.Strict ?? false);
    }

    /// <summary><c>tool_choice</c>: absent or null (auto), a mode string, or <c>{"type": "function", "function": {"name": …}}</c>.</summary>
    public static ToolChoice? Choice(JsonElement c)
    {
        const string param = "tool_choice";
        switch (c.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                return c.GetString() switch
                {
                    "auto" => ToolChoice.Auto,
                    "none" => ToolChoice.None,
                    "required" => ToolChoice.Required,
                    var s => throw new ArgumentException($"tool_choice must be 'none', 'auto', 'required' or a function. Got '{s}'.", param),
                };
            case JsonValueKind.Object
                when c.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "function"
                     && c.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object
                     && f.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String && name.GetString() is { Length: > 0 } n:
                return ToolChoice.Function(n);
            default:
                throw new ArgumentException("tool_choice must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": …}}.", param);
        }
    }
}
