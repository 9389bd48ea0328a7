namespace Loom.Server.Tools;

/// <summary>
/// What <see cref="ToolCallStreamParser"/> finds in the model's text, in order: plain content, the start of call
/// <see cref="Index"/> (its id and function name), then pieces of that call's JSON arguments.
/// </summary>
public readonly record struct ToolCallEvent(ToolCallEventKind Kind, string Text, int Index = -1, string? Id = null)
{
    public static ToolCallEvent Content(string text) => new(ToolCallEventKind.Content, text);
    public static ToolCallEvent Start(int index, string id, string name) => new(ToolCallEventKind.CallStart, name, index, id);
    public static ToolCallEvent Arguments(int index, string fragment) => new(ToolCallEventKind.Arguments, fragment, index);
}

public enum ToolCallEventKind { Content, CallStart, Arguments }
