namespace Loom.Cli;

/// <summary>Turns any exception that reaches the top of a command into the one line the user sees.</summary>
internal static class CliErrors
{
    public static string Describe(Exception e)
    {
        while (e is AggregateException { InnerExceptions.Count: 1 } a) e = a.InnerExceptions[0];
        return e switch
        {
            // Argument exceptions append "(Parameter 'x')" and "Actual value was ..." lines meant for programmers.
            ArgumentException a => OneLine(StripParameter(a.Message)),
            OutOfMemoryException => "out of memory (try a smaller --kv-cache-memory, a smaller model or fewer sequences)",
            Loom.Models.ModelFormatException or IOException or InvalidOperationException or UnauthorizedAccessException
                or NotSupportedException or OperationCanceledException => OneLine(e.Message),
            // Anything else is a bug in Loom; the type tells a bug report more than the message alone.
            _ => $"unexpected error: {e.GetType().Name}: {OneLine(e.Message)} (run with --verbose for the stack trace)",
        };
    }

    public static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string StripParameter(string message)
    {
        int at = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        return at >= 0 ? message[..at] : message.Split('\n')[0];
    }
}
