namespace Loom.Models;

/// <summary>
/// The one exception a model or tokenizer file raises when it cannot be used: truncated, corrupt,
/// malicious, or not a model Loom can run. The message names the file and the problem.
/// </summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
    {
        FilePath = path;
        Problem = problem;
    }

    /// <summary>The file (or directory) that was refused.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it, without the path.</summary>
    public string Problem { get; }
}
