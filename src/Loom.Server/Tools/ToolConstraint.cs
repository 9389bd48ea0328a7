using System.Text.Json.Nodes;

namespace Loom.Server.Tools;

/// <summary>
/// The constraint a forced tool choice puts on the output, as a JSON schema for the constraint engine: with a named
/// function, one call object <c>{"name": that name, "arguments": its parameters' schema}</c>; with
/// <c>"required"</c>, one call to any of the tools (an array of one or more when parallel calls are allowed). The
/// output is then that bare JSON, and the parser reads it in <see cref="ToolCallFormat.Json"/>. This is the one place
/// where tool calling asks for a bare-JSON constraint; under <c>auto</c>, strict tools ask for
/// <see cref="TextOrCallGrammar"/>'s, and <c>none</c> asks for none.
/// </summary>
public static class ToolConstraint
{
    /// <summary>The schema, or null when the plan does not force a call.</summary>
    public static JsonObject? Schema(ToolPlan plan)
    {
        switch (plan.Choice.Mode)
        {
            case ToolChoiceMode.Function:
                return Call(plan.Tools.Single(t => t.Name == plan.Choice.FunctionName));
            case ToolChoiceMode.Required:
                var anyOf = new JsonObject { ["anyOf"] = new JsonArray(plan.Tools.Select(t => (JsonNode?)Call(t)).ToArray()) };
                if (plan.Tools.Count == 1) anyOf = Call(plan.Tools[0]);
                return plan.ParallelCalls
                    ? new JsonObject { ["type"] = "array", ["items"] = anyOf, ["minItems"] = 1 }
                    : anyOf;
            default:
                return null;
        }
    }

    /// <summary>
    /// One call to any of <paramref name="tools"/>, its arguments under <paramref name="argumentsKey"/>; with
    /// <paramref name="strictOnly"/>, a tool that is not strict takes any JSON object (<see cref="TextOrCallGrammar"/>).
    /// </summary>
    internal static JsonObject AnyCall(IReadOnlyList<ToolDefinition> tools, string argumentsKey, bool strictOnly) =>
        tools.Count == 1 ? Call(tools[0], argumentsKey, strictOnly)
            : new JsonObject { ["anyOf"] = new JsonArray(tools.Select(t => (JsonNode?)Call(t, argumentsKey, strictOnly)).ToArray()) };

    private static JsonObject Call(ToolDefinition tool, string argumentsKey = "arguments", bool strictOnly = false) => new()
    {
        ["type"] = "object",
        ["properties"] = new JsonObject
        {
            ["name"] = new JsonObject { ["const"] = tool.Name },
            [argumentsKey] = strictOnly && !tool.Strict ? new JsonObject { ["type"] = "object" }
                : tool.Parameters is { } p ? JsonNode.Parse(p.GetRawText())
                : new JsonObject { ["type"] = "object", ["properties"] = new JsonObject(), ["additionalProperties"] = false },
        },
        ["required"] = new JsonArray("name", argumentsKey),
        ["additionalProperties"] = false,
    };
}
