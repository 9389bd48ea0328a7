using System.Text;

namespace Loom.Server.Tools;

/// <summary>A complete call: what <c>message.tool_calls</c> holds (arguments as JSON text, as OpenAI sends them).</summary>
public sealed record ParsedToolCall(string Id, string Name, string Arguments);

/// <summary>
/// Gathers a parser's events into the content and calls of a whole message: the non-streaming answer, and how a
/// client reassembles streamed deltas (the tests check the two agree).
/// </summary>
public sealed class ParsedToolCalls
{
    private readonly StringBuilder _content = new();
    private readonly List<(string Id, string Name, StringBuilder Arguments)> _calls = [];

    public void Add(ToolCallEvent e)
    {
        switch (e.Kind)
        {
            case ToolCallEventKind.Content: _content.Append(e.Text); break;
            case ToolCallEventKind.CallStart: _calls.Add((e.Id!, e.Text, new StringBuilder())); break;
            case ToolCallEventKind.Arguments: _calls[e.Index].Arguments.Append(e.Text); break;
        }
    }

    public void AddRange(IEnumerable<ToolCallEvent> events)
    {
        foreach (var e in events) Add(e);
    }

    /// <summary>The text outside the calls; null when there are calls and it is blank (as OpenAI answers a pure call).</summary>
    public string? Content => _calls.Count > 0 && string.IsNullOrWhiteSpace(_content.ToString()) ? null : _content.ToString();

    public IReadOnlyList<ParsedToolCall> Calls => _calls.Select(c => new ParsedToolCall(c.Id, c.Name, c.Arguments.ToString())).ToArray();

    /// <summary>Parses a whole text at once, through the same streaming parser.</summary>
    public static ParsedToolCalls Parse(ToolCallFormat format, string text, Func<string> newId, int maxCalls = int.MaxValue)
    {
        var parser = new ToolCallStreamParser(format, newId, maxCalls);
        var events = new List<ToolCallEvent>();
        parser.Add(text, events);
        parser.Finish(events);
        var result = new ParsedToolCalls();
        result.AddRange(events);
        return result;
    }
}
