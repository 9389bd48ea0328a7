
namespace Loom.Models.ChatTemplates;

/// <summary>
/// Raised when a chat template cannot be parsed or rendered. For <c>raise_exception(msg)</c> in the template
/// the message is exactly <c>msg</c>; otherwise it names the problem and, where known, the line and column.
/// </summary>
public sealed class ChatTemplateException : Exception
{
    public ChatTemplateException(string message, int? line = null, int? column = null, Exception? inner = null)
        : base(line is null ? message : $"{message} (line {line}, column {column})", inner)
    {
        Line = line;
        Column = column;
        Problem = message;
    }

    /// <summary>1-based line in the template source, when the error has a location.</summary>
    public int? Line { get; }

    /// <summary>1-based column in the template source, when the error has a location.</summary>
    public int? Column { get; }

    /// <summary>The message without the location suffix.</summary>
    public string Problem { get; }

    /// <summary>True when the template itself called <c>raise_exception</c>.</summary>
    public bool RaisedByTemplate { get; init; }
}
