
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>
/// Bounds that turn a runaway template (huge ranges, deep macro recursion, exponential string growth) into a
/// <see cref="ChatTemplateException"/> instead of a hang, an out-of-memory, or a stack overflow.
/// Chat templates need a few thousand steps; these limits are orders of magnitude above that.
/// </summary>
internal static class RenderLimits
{
    /// <summary>Loop iterations plus macro calls in one render.</summary>
    public const long MaxSteps = 2_000_000;

    /// <summary>Nested macro calls.</summary>
    public const int MaxCallDepth = 100;

    /// <summary>Characters in the output, or in any one string or list built while rendering.</summary>
    public const int MaxLength = 16 * 1024 * 1024;

    /// <summary>Nested expression evaluations, macro calls included; keeps well inside a 1 MB thread stack.</summary>
    public const int MaxEvaluationDepth = 1000;

    /// <summary>Nesting of lists and dicts that equality, ordering, printing and tojson will walk.</summary>
    public const int MaxValueDepth = 100;
}
