using System.Text.RegularExpressions;

namespace Loom.Server.Tools;

/// <summary>
/// What one chat request does with tools, checked once: the tools rendered into the prompt, the choice, whether
/// several calls are allowed, and the format the answer is parsed in. Built from the HTTP request
/// (<c>Protocol/ToolRequestReader.cs</c>) or from <c>ChatOptions</c> (<c>LoomChatClient</c>).
/// </summary>
public sealed partial record ToolPlan(IReadOnlyList<ToolDefinition> Tools, ToolChoice Choice, bool ParallelCalls, ToolCallFormat Format)
{
    /// <summary>
    /// Checks the tools and the choice against each other and against the template. Null when there is nothing to do
    /// (no tools). Bad input is an <see cref="ArgumentException"/> naming the field (a 400 on the server).
    /// </summary>
    /// <param name="tools">The functions offered.</param>
    /// <param name="choice">The tool choice; null is auto.</param>
    /// <param name="parallelCalls">Whether several calls may come in one answer; null is yes.</param>
    /// <param name="templateFormat">The template's call format (<see cref="ToolCallFormat.Detect"/>), null if it has none.</param>
    /// <param name="toolsParam">How errors name the tools (the request field or the option).</param>
    /// <param name="choiceParam">How errors name the choice.</param>
    public static ToolPlan? Create(IReadOnlyList<ToolDefinition>? tools, ToolChoice? choice, bool? parallelCalls, ToolCallFormat? templateFormat,
        string toolsParam = "tools", string choiceParam = "tool_choice")
    {
        choice ??= ToolChoice.Auto;
        if (tools is null || tools.Count == 0)
        {
            if (choice.Forces) throw new ArgumentException($"{choiceParam} '{Describe(choice)}' needs tools to choose from.", choiceParam);
            return null;
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < tools.Count; i++)
        {
            if (!ValidName().IsMatch(tools[i].Name))
                throw new ArgumentException($"{toolsParam}[{i}].function.name must be 1 to 64 letters, digits, '_' or '-'. Got '{tools[i].Name}'.", $"{toolsParam}[{i}].function.name");
            if (!names.Add(tools[i].Name))
                throw new ArgumentException($"{toolsParam}[{i}].function.name '{tools[i].Name}' is given twice.", $"{toolsParam}[{i}].function.name");
        }
        if (choice.Mode == ToolChoiceMode.Function && !names.Contains(choice.FunctionName!))
            throw new ArgumentException($"{choiceParam} names the function '{choice.FunctionName}', which is not in {toolsParam}.", choiceParam);
        if (templateFormat is null && choice.Mode != ToolChoiceMode.None)
            throw new ArgumentException(
                $"This model's chat template does not describe tool calls (no Hermes/Qwen <tool_call>, Llama 3.1 ipython or Mistral [TOOL_CALLS] format), so {toolsParam} cannot be used; give the server a template that does (loom serve --chat-template FILE).",
                toolsParam);
        return new ToolPlan(tools, choice, parallelCalls ?? true, templateFormat ?? ToolCallFormat.Hermes);
    }

    /// <summary>The model's answer is read for calls (not with <c>tool_choice: "none"</c>).</summary>
    public bool ParsesCalls => Choice.Mode != ToolChoiceMode.None;

    /// <summary>
    /// The <c>tools</c> variable for the template: null with <c>tool_choice: "none"</c>, so the model is not told
    /// about tools it may not call (vLLM's <c>--exclude-tools-when-tool-choice-none</c>).
    /// </summary>
    public List<object?>? TemplateTools => ParsesCalls ? Tools.Select(t => (object?)t.ToTemplateValue()).ToList() : null;

    /// <summary>
    /// The output is constrained to <see cref="ToolConstraint.Schema"/> (set by whoever puts that constraint on the
    /// request), so it is the call's bare JSON rather than the template's format.
    /// </summary>
    public bool Constrained { get; init; }

    /// <summary>The text must keep special tokens for the parser to see the format's marker.</summary>
    public bool KeepsSpecialTokens => ParsesCalls && !Constrained && Format.MarkerIsSpecialToken;

    /// <summary>A parser for one choice.</summary>
    public ToolCallStreamParser NewParser()
    {
        var format = Constrained ? ToolCallFormat.Json : Format;
        return new ToolCallStreamParser(format, () => ToolCallIds.New(Format), ParallelCalls ? int.MaxValue : 1);
    }

    private static string Describe(ToolChoice c) => c.Mode == ToolChoiceMode.Function ? c.FunctionName! : c.Mode.ToString().ToLowerInvariant();

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ValidName();
}
