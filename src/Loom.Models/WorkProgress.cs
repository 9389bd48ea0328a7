namespace Loom.Models;

/// <summary>
/// How far a long operation (loading, quantizing, writing a model, a benchmark) has come, reported through an
/// <see cref="IProgress{T}"/> the caller passes in: <paramref name="Done"/> of <paramref name="Total"/>
/// <paramref name="Unit"/> (<c>bytes</c>, <c>tokens</c>, …), never decreasing, and <paramref name="Done"/> equal to
/// <paramref name="Total"/> in the last report. <paramref name="Item"/> names what is being worked on, when that helps.
/// Reports may come from any thread the operation runs on.
/// </summary>
public readonly record struct WorkProgress(long Done, long Total, string Unit, string? Item = null)
{
    public const string Bytes = "bytes";
    public const string Tokens = "tokens";

    /// <summary>Done as a share of the total, 0 to 1 (1 for an empty operation).</summary>
    public double Fraction => Total <= 0 ? 1 : Math.Clamp((double)Done / Total, 0, 1);
}

/// <summary>An <see cref="IProgress{T}"/> that calls its action on the reporting thread, unlike <see cref="Progress{T}"/>, which posts to a captured context.</summary>
public sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
