using System.Text;
using System.Text.Json;
using Loom.Engine.Structured;
using Loom.Models.Formats.Gguf;
using Loom.Models.Tokenizers;
using Loom.Server.Tools;

namespace Loom.Server.Tests;

/// <summary>
/// The "text or call" grammar strict tools put on an answer under tool_choice "auto", on the tool-calling test models'
/// vocabularies: any text without the format's opener, and after the opener only calls whose arguments follow the
/// strict tool's schema, which the format's parser then reads back as those calls.
/// </summary>
public class TextOrCallGrammarTests
{
    private static readonly ToolDefinition Weather = new("get_weather", null, JsonDocument.Parse(ToolCallingModel.WeatherParameters).RootElement, true);
    private static readonly ToolDefinition Loose = new("get_time", null, JsonDocument.Parse("""{"type": "object", "properties": {"zone": {"type": "string"}}}""").RootElement, false);

    private static Tokenizer TokenizerOf(ToolCallingModel m)
    {
        using var gguf = GgufFile.Open(m.Path);
        return Tokenizer.FromGguf(gguf);
    }

    private static readonly Lazy<Tokenizer> Qwen = new(() => TokenizerOf(ToolCallingModel.Qwen));
    private static readonly Lazy<Tokenizer> Mistral = new(() => TokenizerOf(ToolCallingModel.Mistral));

    private static ToolPlan Plan(ToolCallFormat format, bool parallel = true, params ToolDefinition[] tools) =>
        ToolPlan.Create(tools.Length == 0 ? [Weather, Loose] : tools, ToolChoice.Auto, parallel, format)!;

    private static CompiledConstraint Compile(ToolPlan plan, Tokenizer tokenizer) =>
        ConstraintCompiler.CompileUncached(Constraint.Grammar(TextOrCallGrammar.Gbnf(plan, tokenizer)!), new TokenVocabulary(tokenizer, tokenizer.VocabSize));

    /// <summary>Whether the whole text is an answer the grammar allows (or, with <paramref name="prefix"/>, the start of one).</summary>
    private static bool Allows(CompiledConstraint c, string text, bool prefix = false)
    {
        var m = c.NewMatcher();
        return m.AcceptBytes(Encoding.UTF8.GetBytes(text)) && (prefix || m.IsAccepting);
    }

    [Theory]
    [InlineData("It is sunny.", true)]
    [InlineData("", true)]
    [InlineData("a <b> << <tool <tool_cal <tool_call", true)]
    [InlineData("Let me check.<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>", true)]
    [InlineData("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>{\"name\": \"get_time\", \"arguments\": {\"any\": [1]}}</tool_call>", true)]
    [InlineData("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": 3}}</tool_call>", false)]
    [InlineData("<tool_call>{\"name\": \"get_weather\", \"arguments\": {}}</tool_call>", false)]
    [InlineData("<tool_call>{\"name\": \"get_news\", \"arguments\": {}}</tool_call>", false)]
    [InlineData("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call> and then text", false)]
    [InlineData("<tool_call>not json", false)]
    public void Hermes_allows_text_then_calls_that_follow_the_strict_schema(string text, bool allowed)
    {
        var c = Compile(Plan(ToolCallFormat.Hermes), Qwen.Value);
        Assert.Equal(allowed, Allows(c, text));
        if (!allowed) return;
        var parsed = ParsedToolCalls.Parse(ToolCallFormat.Hermes, text, () => "id");
        foreach (var call in parsed.Calls.Where(c => c.Name == "get_weather")) ToolCallingTests.AssertValidArguments(call.Arguments);
        Assert.Equal(text.Contains("<tool_call>"), parsed.Calls.Count > 0);
    }

    [Fact]
    public void Without_parallel_calls_one_call_ends_the_answer()
    {
        var c = Compile(Plan(ToolCallFormat.Hermes, parallel: false), Qwen.Value);
        const string one = "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>";
        Assert.True(Allows(c, one));
        Assert.False(Allows(c, one + one));
    }

    [Fact]
    public void A_bad_argument_is_refused_at_its_first_byte()
    {
        var c = Compile(Plan(ToolCallFormat.Hermes), Qwen.Value);
        Assert.True(Allows(c, "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": ", prefix: true));
        Assert.False(Allows(c, "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": 3", prefix: true));
        Assert.False(Allows(c, "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"town", prefix: true));
    }

    [Fact]
    public void Mistral_opens_calls_with_its_control_token()
    {
        var tokenizer = Mistral.Value;
        int open = tokenizer.TokenToId("[TOOL_CALLS]");
        Assert.True(tokenizer.TokenBytes(open).IsEmpty, "the test model's [TOOL_CALLS] is a control token");
        var c = Compile(Plan(ToolCallFormat.Mistral), tokenizer);
        var m = c.NewMatcher();
        Assert.True(m.AcceptBytes("Sure. "u8));
        var mask = new ulong[(c.Vocabulary.Size + 63) / 64];
        m.FillMask(mask);
        Assert.True((mask[open >> 6] & (1UL << (open & 63))) != 0, "the mask allows the control token that opens the calls");
        int bos = tokenizer.BosId;
        Assert.True((mask[bos >> 6] & (1UL << (bos & 63))) == 0, "other control tokens stay forbidden");
        Assert.True(m.AcceptToken(open));
        Assert.False(m.IsAccepting);
        var copy = c.NewMatcher();
        copy.CopyFrom(m);
        Assert.False(copy.AcceptBytes("[{\"name\": \"get_weather\", \"arguments\": {\"city\": 3"u8));
        Assert.True(m.AcceptBytes("[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, {\"name\": \"get_time\", \"arguments\": {}}]"u8));
        Assert.True(m.IsAccepting);
        // Its text spelled out opens the calls too (the parser reads both alike), so text may not contain it.
        Assert.False(Allows(c, "Sure. [TOOL_CALLS] is what I would write"));
        Assert.True(Allows(c, "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}]"));
    }

    [Theory]
    [InlineData("[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}", true)]
    [InlineData("Let me look.[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[ARGS]{\"zone\": 1}", true)]
    [InlineData("[TOOL_CALLS]get_weather[ARGS]{\"city\": 3}", false)]
    [InlineData("[TOOL_CALLS]get_news[ARGS]{}", false)]
    [InlineData("[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]", false)]
    public void Mistral_newer_templates_name_each_call_before_its_arguments(string text, bool allowed)
    {
        var c = Compile(Plan(ToolCallFormat.MistralArgs), Mistral.Value);
        Assert.Equal(allowed, Allows(c, text));
        if (!allowed) return;
        var parsed = ParsedToolCalls.Parse(ToolCallFormat.MistralArgs, text, () => "id");
        ToolCallingTests.AssertValidArguments(parsed.Calls.First(call => call.Name == "get_weather").Arguments);
    }

    [Theory]
    [InlineData("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", true)]
    [InlineData("  \n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", true)]
    [InlineData("{\"name\": \"get_weather\", \"parameters\": {\"city\": 1}}", false)]
    [InlineData("{\"city\": \"Paris\"}", false)]
    [InlineData("The weather is {unknown}.", true)]
    [InlineData("<b>Hi</b> <|python", true)]
    [InlineData("Checking. <|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", true)]
    [InlineData("<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {}}", false)]
    public void Llama3_reads_a_leading_brace_or_the_python_tag_as_a_call(string text, bool allowed)
    {
        var c = Compile(Plan(ToolCallFormat.Llama3, true, Weather), Qwen.Value);
        Assert.Equal(allowed, Allows(c, text));
        if (allowed && text.Contains("get_weather"))
            ToolCallingTests.AssertValidArguments(Assert.Single(ParsedToolCalls.Parse(ToolCallFormat.Llama3, text, () => "id").Calls).Arguments);
    }

    [Fact]
    public void Only_auto_with_a_strict_tool_asks_for_it()
    {
        Assert.Null(TextOrCallGrammar.Gbnf(Plan(ToolCallFormat.Hermes, true, Loose), Qwen.Value));
        Assert.Null(TextOrCallGrammar.Gbnf(ToolPlan.Create([Weather], ToolChoice.Required, true, ToolCallFormat.Hermes)!, Qwen.Value));
        Assert.Null(TextOrCallGrammar.Gbnf(ToolPlan.Create([Weather], ToolChoice.None, true, ToolCallFormat.Hermes)!, Qwen.Value));
        Assert.NotNull(TextOrCallGrammar.Gbnf(Plan(ToolCallFormat.Hermes, true, Weather), Qwen.Value));
    }
}
