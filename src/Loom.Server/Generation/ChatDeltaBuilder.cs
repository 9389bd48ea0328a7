using Loom.Server.Protocol;
using Loom.Server.Tools;

namespace Loom.Server.Generation;

/// <summary>
/// One choice's streamed text turned into chat deltas: as is without tools; with them, through the choice's
/// <see cref="ToolCallStreamParser"/>, so content before a call streams on and the call goes out as
/// <c>delta.tool_calls</c> pieces (the first with id, type and name, then pieces of the arguments).
/// </summary>
/// <remarks>With a <see cref="ReasoningSplitter"/> (a reasoning model's template), the reasoning goes out as
/// <c>delta.reasoning_content</c> first and only the rest is content, or read for calls.</remarks>
internal sealed class ChatDeltaBuilder(ToolCallStreamParser? parser, ReasoningSplitter? reasoning = null)
{
    private readonly List<ToolCallEvent> _events = [];
    private readonly System.Text.StringBuilder _reasoning = new(), _content = new();

    /// <summary>True once the choice has called a tool.</summary>
    public bool HasCalls => parser?.HasCalls ?? false;

    /// <summary>The delta for the next piece of text; <paramref name="last"/> flushes what the parser held.</summary>
    public ChatDelta Next(string text, bool last)
    {
        string? thought = null;
        if (reasoning is not null)
        {
            _reasoning.Clear();
            _content.Clear();
            reasoning.Add(text, _reasoning, _content);
            if (last) reasoning.Finish(_reasoning, _content);
            text = _content.ToString();
            if (_reasoning.Length > 0) thought = _reasoning.ToString();
        }
        var delta = Parse(text, last);
        return thought is null ? delta : delta with { ReasoningContent = thought, Content = string.IsNullOrEmpty(delta.Content) ? null : delta.Content };
    }

    private ChatDelta Parse(string text, bool last)
    {
        if (parser is null) return new ChatDelta(null, text);
        _events.Clear();
        parser.Add(text, _events);
        if (last) parser.Finish(_events);
        string content = string.Concat(_events.Where(e => e.Kind == ToolCallEventKind.Content).Select(e => e.Text));
        var calls = new List<ChunkToolCall>();
        foreach (var e in _events)
        {
            if (e.Kind == ToolCallEventKind.Content) continue;
            // Consecutive pieces of one call share an entry: clients merge by index either way, but fewer is plainer.
            if (e.Kind == ToolCallEventKind.Arguments && calls.Count > 0 && calls[^1].Index == e.Index)
            {
                calls[^1] = calls[^1] with { Function = calls[^1].Function with { Arguments = calls[^1].Function.Arguments + e.Text } };
                continue;
            }
            calls.Add(e.Kind == ToolCallEventKind.CallStart
                ? new ChunkToolCall(e.Index, e.Id, "function", new ChunkFunctionCall(e.Text, ""))
                : new ChunkToolCall(e.Index, null, null, new ChunkFunctionCall(null, e.Text)));
        }
        // A token whose text is held back still gets its chunk (with empty content), as without tools.
        return new ChatDelta(null, calls.Count > 0 && content.Length == 0 ? null : content, calls.Count > 0 ? calls : null);
    }

    /// <summary>A whole answer's message (the non-streaming response), through the same parser.</summary>
    public static ChatResponseMessage Message(ToolPlan? plan, string text, out bool calledTools, ReasoningSplitter? reasoning = null)
    {
        string? thought = null;
        if (reasoning is not null)
        {
            var r = new System.Text.StringBuilder();
            var c = new System.Text.StringBuilder();
            reasoning.Add(text, r, c);
            reasoning.Finish(r, c);
            text = c.ToString();
            thought = r.Length > 0 ? r.ToString() : null;
        }
        var message = CallsMessage(plan, text, out calledTools);
        return thought is null ? message : message with { ReasoningContent = thought };
    }

    private static ChatResponseMessage CallsMessage(ToolPlan? plan, string text, out bool calledTools)
    {
        calledTools = false;
        if (plan is not { ParsesCalls: true }) return new ChatResponseMessage("assistant", text);
        var parser = plan.NewParser();
        var events = new List<ToolCallEvent>();
        parser.Add(text, events);
        parser.Finish(events);
        var parsed = new ParsedToolCalls();
        parsed.AddRange(events);
        calledTools = parser.HasCalls;
        if (!calledTools) return new ChatResponseMessage("assistant", parsed.Content ?? "");
        var calls = parsed.Calls.Select(c => new ResponseToolCall(c.Id, "function", new ResponseFunctionCall(c.Name, c.Arguments))).ToArray();
        return new ChatResponseMessage("assistant", parsed.Content, calls);
    }
}
