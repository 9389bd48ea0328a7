using System.Text.Json;

namespace Loom.Server.Tools;

/// <summary>
/// A function offered to the model, checked (<see cref="ToolPlan.Create"/>): its name, description, the JSON schema
/// of its arguments (null when it takes none), and whether the arguments must follow that schema exactly.
/// </summary>
public sealed record ToolDefinition(string Name, string? Description, JsonElement? Parameters, bool Strict)
{
    /// <summary>As chat templates expect it: <c>{"type": "function", "function": {"name", "description", "parameters"}}</c>.</summary>
    public Dictionary<string, object?> ToTemplateValue()
    {
        var function = new Dictionary<string, object?> { ["name"] = Name };
        if (Description is not null) function["description"] = Description;
        // Templates read parameters.properties unguarded (Hermes), so a function without arguments gets an empty object schema.
        function["parameters"] = Parameters is { } p ? p : JsonDocument.Parse("""{"type": "object", "properties": {}}""").RootElement;
        return new Dictionary<string, object?> { ["type"] = "function", ["function"] = function };
    }
}

/// <summary><c>tool_choice</c>: whether the model may, must, or must not call, or which function it must call.</summary>
public sealed record ToolChoice(ToolChoiceMode Mode, string? FunctionName = null)
{
    public static readonly ToolChoice Auto = new(ToolChoiceMode.Auto);
    public static readonly ToolChoice None = new(ToolChoiceMode.None);
    public static readonly ToolChoice Required = new(ToolChoiceMode.Required);
    public static ToolChoice Function(string name) => new(ToolChoiceMode.Function, name);

    /// <summary>The model must call (some tool, or the named one): the case for a constraint on the output.</summary>
    public bool Forces => Mode is ToolChoiceMode.Required or ToolChoiceMode.Function;
}

public enum ToolChoiceMode { Auto, None, Required, Function }
