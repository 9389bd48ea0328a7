using Loom.Models.ChatTemplates;
using Loom.Server.Errors;

namespace Loom.Server.Protocol;

/// <summary>
/// Checks <c>messages</c> and converts them for the chat template: "developer" is OpenAI's newer name for "system";
/// an assistant message may carry <c>tool_calls</c> (its content then may be null, passed on as empty, as vLLM does);
/// a tool message must answer an earlier call by <c>tool_call_id</c>, and gets that call's function name (Hermes-style
/// templates print it).
/// </summary>
internal static class MessageReader
{
    public static IReadOnlyList<ChatMessage> Messages(List<ChatMessageDto>? messages)
    {
        if (messages is null || messages.Count == 0)
            throw OpenAiException.BadRequest("messages must be a non-empty list.", "messages", "missing_required_parameter");
        var callNames = new Dictionary<string, string>(StringComparer.Ordinal);
        var result = new ChatMessage[messages.Count];
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i] ?? throw Bad($"messages[{i}] must be an object.");
            if (string.IsNullOrEmpty(m.Role)) throw Bad("every message needs a role.");
            string role = m.Role == "developer" ? "system" : m.Role;
            var message = new ChatMessage(role, RequestReader.Content(m.Content)) { Name = m.Name };
            if (m.ToolCalls is { Count: > 0 } calls)
            {
                if (role != "assistant") throw Bad($"messages[{i}] has tool_calls, which only assistant messages may have.");
                message = message with { ToolCalls = calls.Select((c, j) => Call(c, $"messages[{i}].tool_calls[{j}]", callNames)).ToArray() };
            }
            if (role == "tool")
            {
                if (string.IsNullOrEmpty(m.ToolCallId)) throw Bad($"messages[{i}] has role 'tool' but no tool_call_id.");
                if (!callNames.TryGetValue(m.ToolCallId, out var function))
                    throw Bad($"messages[{i}] answers tool_call_id '{m.ToolCallId}', which no earlier assistant message called.");
                message = message with { ToolCallId = m.ToolCallId, Name = m.Name ?? function };
            }
            result[i] = message;
        }
        return result;
    }

    private static ChatToolCall Call(ToolCallDto? c, string at, Dictionary<string, string> callNames)
    {
        if (c is null) throw Bad($"{at} must be an object.");
        if (string.IsNullOrEmpty(c.Id)) throw Bad($"{at}.id is required.");
        if (c.Type is not null and not "function") throw Bad($"{at}.type must be 'function'. Got '{c.Type}'.");
        if (string.IsNullOrEmpty(c.Function?.Name)) throw Bad($"{at}.function.name is required.");
        if (c.Function.Arguments is null) throw Bad($"{at}.function.arguments is required (a JSON string).");
        callNames[c.Id] = c.Function.Name;
        return new ChatToolCall(c.Id, c.Function.Name, c.Function.Arguments);
    }

    private static OpenAiException Bad(string message) => OpenAiException.BadRequest(message, "messages", "invalid_value");
}
