namespace Loom.Cli.BenchServe;

/// <summary>
/// What one streamed request measured, in seconds from just before it was sent. <see cref="Itl"/> holds the gaps
/// between successive content chunks after the first (one token each on servers that stream token by token).
/// </summary>
internal sealed record RequestResult
{
    public bool Success { get; init; }
    /// <summary>Stopped by the time limit before it finished; neither completed nor failed.</summary>
    public bool Cancelled { get; init; }
    public string? Error { get; init; }
    public double StartS { get; init; }
    public double TtftS { get; init; }
    public double E2elS { get; init; }
    public IReadOnlyList<double> Itl { get; init; } = [];
    public int PromptTokens { get; init; }
    public int OutputTokens { get; init; }

    /// <summary>vLLM's definition; undefined (null) for a single output token.</summary>
    public double? TpotS => OutputTokens > 1 ? (E2elS - TtftS) / (OutputTokens - 1) : null;
}
