using System.Text.Json.Nodes;

namespace Loom.Server.Tools;

/// <summary>
/// The constraint a forced tool choice puts on the output, as a JSON schema for the constraint engine: with a named
/// function, one call object <c>{"name": that name, "arguments": its parameters' schema}</c>; with
/// <c>"required"</c>, one call to any of the tools (an array of one or more when parallel calls are allowed). The
/// output is then that bare JSON, and the parser reads it in <see cref="ToolCallFormat.Json"/>. This is the one place
/// where tool calling asks for a constraint; <c>auto</c> and <c>none</c> ask for none.
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

    private static JsonObject Call(ToolDefinition tool) => new()
    {
        ["type"] = "object",
        ["properties"] = new JsonObject
        {
            ["name"] = new JsonObject { ["const"] = tool.Name },
            ["arguments"] = tool.Parameters is { } p ? JsonNode.Parse(p.GetRawText()) : new JsonObject { ["type"] = "object", ["properties"] = new JsonObject(), ["additionalProperties"] = false },
        },
        ["required"] = new JsonArray("name", "arguments"),
        ["additionalProperties"] = false,
    };
}
