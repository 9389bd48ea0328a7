using System.Text.Json;
using Loom.Server.Tools;
using Microsoft.Extensions.AI;
using TemplateMessage = Loom.Models.ChatTemplates.ChatMessage;
using TemplateToolCall = Loom.Models.ChatTemplates.ChatToolCall;

namespace Loom.Server.InProcess;

/// <summary>
/// Microsoft.Extensions.AI's tool types to Loom's and back: <see cref="AIFunctionDeclaration"/>s and
/// <see cref="ChatToolMode"/> to a <see cref="ToolPlan"/>, <see cref="FunctionCallContent"/> and
/// <see cref="FunctionResultContent"/> in the conversation to the template's tool calls and tool turns, and parsed
/// calls back to <see cref="FunctionCallContent"/>, which is what <c>FunctionInvokingChatClient</c> acts on.
/// </summary>
internal static class ChatToolMapping
{
    public static ToolPlan? Plan(ChatOptions? options, ToolCallFormat? templateFormat)
    {
        var tools = options?.Tools?.Select((t, i) => t is AIFunctionDeclaration f
                ? new ToolDefinition(f.Name, string.IsNullOrEmpty(f.Description) ? null : f.Description, Parameters(f.JsonSchema), false)
                : throw new ArgumentException($"options.Tools[{i}] is a {t.GetType().Name}; only functions (AIFunctionDeclaration) can be called.", "options.Tools"))
            .ToArray();
        ToolChoice? choice = options?.ToolMode switch
        {
            null or AutoChatToolMode => null,
            NoneChatToolMode => ToolChoice.None,
            RequiredChatToolMode { RequiredFunctionName: { } name } => ToolChoice.Function(name),
            RequiredChatToolMode => ToolChoice.Required,
            var other => throw new ArgumentException($"options.ToolMode {other} is not supported.", "options.ToolMode"),
        };
        return ToolPlan.Create(tools, choice, options?.AllowMultipleToolCalls, templateFormat, "options.Tools", "options.ToolMode");
    }

    // A function without parameters may come with an empty or non-object schema; the templates want an object one.
    private static JsonElement? Parameters(JsonElement schema) =>
        schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("properties", out _) ? schema : null;

    /// <summary>The conversation as the template sees it: calls on assistant turns, one tool turn per result.</summary>
    public static IEnumerable<TemplateMessage> Messages(IEnumerable<ChatMessage> messages)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var m in messages)
        {
            var calls = m.Contents.OfType<FunctionCallContent>().ToArray();
            var results = m.Contents.OfType<FunctionResultContent>().ToArray();
            if (results.Length > 0)
            {
                foreach (var r in results)
                    yield return new TemplateMessage("tool", ResultText(r.Result)) { ToolCallId = r.CallId, Name = names.GetValueOrDefault(r.CallId) };
                continue;
            }
            var message = new TemplateMessage(m.Role.Value, m.Text);
            if (calls.Length > 0)
            {
                foreach (var c in calls) names[c.CallId] = c.Name;
                message = message with
                {
                    ToolCalls = calls.Select(c => new TemplateToolCall(c.CallId, c.Name,
                        JsonSerializer.Serialize(c.Arguments ?? new Dictionary<string, object?>(), AIJsonUtilities.DefaultOptions))).ToArray(),
                };
            }
            yield return message;
        }
    }

    private static string ResultText(object? result) => result switch
    {
        null => "",
        string s => s,
        JsonElement e when e.ValueKind == JsonValueKind.String => e.GetString()!,
        _ => JsonSerializer.Serialize(result, AIJsonUtilities.DefaultOptions),
    };

    /// <summary>A parsed answer's text and calls as message contents.</summary>
    public static List<AIContent> Contents(ParsedToolCalls parsed)
    {
        var contents = new List<AIContent>();
        if (parsed.Content is { Length: > 0 } text) contents.Add(new TextContent(text));
        foreach (var c in parsed.Calls) contents.Add(Call(c));
        return contents;
    }

    public static FunctionCallContent Call(ParsedToolCall c) =>
        FunctionCallContent.CreateFromParsedArguments(c.Arguments, c.Id, c.Name,
            json => JsonSerializer.Deserialize<Dictionary<string, object?>>(json, AIJsonUtilities.DefaultOptions));
}
