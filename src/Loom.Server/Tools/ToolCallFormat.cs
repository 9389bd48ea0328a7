namespace Loom.Server.Tools;

/// <summary>
/// How a model writes tool calls, read off its chat template: what opens the calls in its output, what may sit
/// between two calls, and whether the opening marker is a special token (which the detokenizer must then print).
/// </summary>
/// <param name="Name">"hermes" (Hermes, Qwen 2.5/3: <c>&lt;tool_call&gt;{json}&lt;/tool_call&gt;</c>), "llama3"
/// (<c>{"name": …, "parameters": …}</c> at the start of the answer, or after <c>&lt;|python_tag|&gt;</c>) or "mistral"
/// (<c>[TOOL_CALLS] [{…}, …]</c>, or <c>[TOOL_CALLS]name[ARGS]{…}</c> per call).</param>
/// <param name="Markers">Text that opens the calls wherever it appears.</param>
/// <param name="LeadingChars">Characters that, as the first non-blank one of the answer, also open the calls.</param>
/// <param name="Separators">Tags that may stand between calls besides blanks and <c>[ ] , ;</c>.</param>
/// <param name="MarkerIsSpecialToken">The marker is a control token, so the text must keep special tokens.</param>
/// <param name="ShortIds">Call ids are 9 letters and digits, as Mistral's templates require.</param>
public sealed record ToolCallFormat(string Name, IReadOnlyList<string> Markers, string LeadingChars, IReadOnlyList<string> Separators,
    bool MarkerIsSpecialToken, bool ShortIds)
{
    public static readonly ToolCallFormat Hermes = new("hermes", ["<tool_call>"], "", ["<tool_call>", "</tool_call>"], false, false);
    public static readonly ToolCallFormat Llama3 = new("llama3", ["<|python_tag|>"], "{", ["<|python_tag|>"], true, false) { PythonCalls = true };

    /// <summary>Built-in tool calls <c>name.call(key="value", …)</c> (Llama 3.1's brave_search, wolfram_alpha…) are read too.</summary>
    public bool PythonCalls { get; init; }
    /// <summary>
    /// Bare JSON, a call object or an array of them, with no marker: what the output is when it is constrained to
    /// <see cref="ToolConstraint"/>'s schema.
    /// </summary>
    public static readonly ToolCallFormat Json = new("json", [], "{[", [], false, false);
    public static readonly ToolCallFormat Mistral = new("mistral", ["[TOOL_CALLS]"], "", ["[TOOL_CALLS]"], true, true) { NamedCalls = true };

    /// <summary>Mistral's newer templates (Small 3.2, Magistral): each call <c>[TOOL_CALLS]name[ARGS]{…}</c>.</summary>
    public static readonly ToolCallFormat MistralArgs = Mistral with { WritesNamedCalls = true };

    /// <summary>Calls may also be written <c>name[ARGS]{…}</c> (read in either Mistral format, since models mix them).</summary>
    public bool NamedCalls { get; init; }

    /// <summary>The template writes calls as <c>name[ARGS]{…}</c>, so a constraint does too.</summary>
    public bool WritesNamedCalls { get; init; }

    /// <summary>
    /// The format the template teaches, or null when it renders no tool calls. Looked for in this order because a
    /// Mistral template mentions neither of the others' tags, and Llama 3.1's mentions no &lt;tool_call&gt;.
    /// </summary>
    public static ToolCallFormat? Detect(string? templateSource)
    {
        if (templateSource is null) return null;
        if (templateSource.Contains("[TOOL_CALLS]", StringComparison.Ordinal))
            return templateSource.Contains("[ARGS]", StringComparison.Ordinal) ? MistralArgs : Mistral;
        if (templateSource.Contains("<tool_call>", StringComparison.Ordinal)) return Hermes;
        if (templateSource.Contains("<|python_tag|>", StringComparison.Ordinal)
            || (templateSource.Contains("ipython", StringComparison.Ordinal) && templateSource.Contains("\"parameters\"", StringComparison.Ordinal)))
            return Llama3;
        return null;
    }
}
