using Loom.Server.Tools;

namespace Loom.Server.Tests;

/// <summary>
/// The tool-call parser over each format's output: whole, and streamed split at every point and character by
/// character, where the streamed events must reassemble into exactly the whole parse.
/// </summary>
public class ToolCallParserTests
{
    public static TheoryData<string, string, string?, string> Cases => new()
    {
        // format, model output, expected content, expected calls as "name(args)|name(args)"
        { "hermes", "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", "Let me check.\n", "get_weather({\"city\": \"Paris\"})" },
        { "hermes", "<tool_call>{\"name\":\"a\",\"arguments\":{\"s\":\"x}\\\"{\",\"n\":[1,{\"k\":2}]}}</tool_call>\n<tool_call>\n{\"arguments\": {\"q\": 1}, \"name\": \"b\"}\n</tool_call>", null, "a({\"s\":\"x}\\\"{\",\"n\":[1,{\"k\":2}]})|b({\"q\": 1})" },
        { "hermes", "I use <tool_call> tags sometimes", "I use <tool_call> tags sometimes", "" },
        { "hermes", "a <tool_ca", "a <tool_ca", "" },
        { "hermes", "<tool_call>{\"foo\": 1}</tool_call> done", "<tool_call>{\"foo\": 1}</tool_call> done", "" },
        { "hermes", "<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"x\\\": 1}\"}</tool_call>", null, "f({\"x\": 1})" },
        { "hermes", "<tool_call>{\"name\": \"f\", \"arguments\": {\"x\": 1", null, "f({\"x\": 1)" },
        { "hermes", "<tool_call>{\"name\": \"n\\u00e9\"}</tool_call>", null, "né({})" },
        { "hermes", "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>\nThat is all.", null, "f({})" },
        { "llama3", "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", null, "get_weather({\"city\": \"Paris\"})" },
        { "llama3", "  {\"type\": \"function\", \"name\": \"f\", \"parameters\": {\"a\": [true, null]}}", null, "f({\"a\": [true, null]})" },
        { "llama3", "<|python_tag|>{\"name\": \"f\", \"parameters\": {}}; {\"name\": \"g\", \"parameters\": {\"b\": 2}}", null, "f({})|g({\"b\": 2})" },
        { "llama3", "The answer is {\"name\": \"f\"}", "The answer is {\"name\": \"f\"}", "" },
        { "llama3", "<|python_tag|>brave_search.call(query=\"weather (Paris), 'today'\")", null, "brave_search({\"query\":\"weather (Paris), \\u0027today\\u0027\"})" },
        { "llama3", "Searching.<|python_tag|>wolfram_alpha.call(query='2+2', n=3, exact=True, x=-1.5, none=None)", "Searching.", "wolfram_alpha({\"query\":\"2\\u002B2\",\"n\":3,\"exact\":true,\"x\":-1.5,\"none\":null})" },
        { "llama3", "<|python_tag|>brave_search.call()", null, "brave_search({})" },
        { "llama3", "<|python_tag|>print(1)", "<|python_tag|>print(1)", "" },
        { "llama3", "<|python_tag|>search.call(q=f(x))", "<|python_tag|>search.call(q=f(x))", "" },
        { "llama3", "{ not json at all", "{ not json at all", "" },
        { "llama3", "  ", "  ", "" },
        { "json", "[{\"name\": \"a\", \"arguments\": {\"x\": [1]}}, {\"name\": \"b\", \"arguments\": {}}]", null, "a({\"x\": [1]})|b({})" },
        { "json", " {\"name\": \"a\", \"arguments\": {\"x\": 1}}", null, "a({\"x\": 1})" },
        { "mistral", "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, {\"name\": \"b\", \"arguments\": {}}]", null, "get_weather({\"city\": \"Paris\"})|b({})" },
        { "mistral", "Sure[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {\"k\": \"[TOOL_CALLS]\"}, \"id\": \"abcDEF123\"}]", "Sure", "f({\"k\": \"[TOOL_CALLS]\"})" },
        { "mistral", "[TOOL_CALLS] nothing", "[TOOL_CALLS] nothing", "" },
        { "mistral", "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]b[ARGS]{\"s\": \"}]{\\\"\", \"n\": [{}]}", null, "get_weather({\"city\": \"Paris\"})|b({\"s\": \"}]{\\\"\", \"n\": [{}]})" },
        { "mistral", "Sure.[TOOL_CALLS]f[ARGS] {}", "Sure.", "f({})" },
        { "mistral", "[TOOL_CALLS]f[ARGS]{\"x\": 1", null, "f({\"x\": 1)" },
        { "mistral", "[TOOL_CALLS]f[ARG]{}", "[TOOL_CALLS]f[ARG]{}", "" },
        { "mistral", "[TOOL_CALLS]bad name[ARGS]{}", "[TOOL_CALLS]bad name[ARGS]{}", "" },
    };

    private static ToolCallFormat Format(string name) => name switch
    {
        "hermes" => ToolCallFormat.Hermes,
        "llama3" => ToolCallFormat.Llama3,
        "json" => ToolCallFormat.Json,
        _ => ToolCallFormat.Mistral,
    };

    private static Func<string> Ids()
    {
        int n = 0;
        return () => $"id{n++}";
    }

    private static string Describe(ParsedToolCalls p) => string.Join("|", p.Calls.Select(c => $"{c.Name}({c.Arguments})"));

    private static ParsedToolCalls Stream(ToolCallFormat format, IEnumerable<string> pieces, int maxCalls = int.MaxValue)
    {
        var parser = new ToolCallStreamParser(format, Ids(), maxCalls);
        var events = new List<ToolCallEvent>();
        foreach (var p in pieces) parser.Add(p, events);
        parser.Finish(events);
        var result = new ParsedToolCalls();
        result.AddRange(events);
        return result;
    }

    [Theory, MemberData(nameof(Cases))]
    public void ParsesWholeText(string format, string text, string? content, string calls)
    {
        var p = ParsedToolCalls.Parse(Format(format), text, Ids());
        Assert.Equal(content, p.Content);
        Assert.Equal(calls, Describe(p));
        Assert.Equal(Enumerable.Range(0, p.Calls.Count).Select(i => $"id{i}"), p.Calls.Select(c => c.Id));
    }

    [Theory, MemberData(nameof(Cases))]
    public void EverySplitPointGivesTheSameMessage(string format, string text, string? content, string calls)
    {
        for (int i = 0; i <= text.Length; i++)
        {
            var p = Stream(Format(format), [text[..i], text[i..]]);
            Assert.True(content == p.Content, $"split at {i}: content {p.Content}");
            Assert.True(calls == Describe(p), $"split at {i}: calls {Describe(p)}");
        }
        var byChar = Stream(Format(format), text.Select(c => c.ToString()));
        Assert.Equal(content, byChar.Content);
        Assert.Equal(calls, Describe(byChar));
    }

    [Fact]
    public void ContentGoesOutBeforeTheCallAndArgumentsComeInPieces()
    {
        var parser = new ToolCallStreamParser(ToolCallFormat.Hermes, Ids());
        var events = new List<ToolCallEvent>();
        parser.Add("Let me check.\n<tool", events);
        Assert.Equal([ToolCallEvent.Content("Let me check.\n")], events);
        events.Clear();
        parser.Add("_call>{\"name\": \"get_weather\", ", events);
        Assert.Equal([ToolCallEvent.Start(0, "id0", "get_weather")], events);
        Assert.True(parser.HasCalls);
        events.Clear();
        parser.Add("\"arguments\": {\"city\": \"Pa", events);
        parser.Add("ris\"}}</tool_call>", events);
        parser.Finish(events);
        Assert.Equal([ToolCallEvent.Arguments(0, "{\"city\": \"Pa"), ToolCallEvent.Arguments(0, "ris\"}")], events);
    }

    [Fact]
    public void ArgumentsBeforeTheNameWaitForIt()
    {
        var parser = new ToolCallStreamParser(ToolCallFormat.Hermes, Ids());
        var events = new List<ToolCallEvent>();
        parser.Add("<tool_call>{\"arguments\": {\"q\": 1}, ", events);
        Assert.Empty(events);
        parser.Add("\"name\": \"b\"}", events);
        Assert.Equal([ToolCallEvent.Start(0, "id0", "b"), ToolCallEvent.Arguments(0, "{\"q\": 1}")], events);
    }

    [Fact]
    public void OneCallWhenParallelCallsAreOff()
    {
        string text = "[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {}}, {\"name\": \"b\", \"arguments\": {}}]";
        Assert.Equal("a({})", Describe(ParsedToolCalls.Parse(ToolCallFormat.Mistral, text, Ids(), maxCalls: 1)));
        Assert.Equal("a({})", Describe(Stream(ToolCallFormat.Mistral, text.Select(c => c.ToString()), maxCalls: 1)));
    }

    [Theory]
    [InlineData("qwen2.5", "hermes")]
    [InlineData("qwen3", "hermes")]
    [InlineData("hermes-2-pro-tool-use", "hermes")]
    [InlineData("llama-3.1", "llama3")]
    [InlineData("llama-3.2", "llama3")]
    [InlineData("mistral-v0.3", "mistral")]
    [InlineData("mistral-nemo", "mistral")]
    [InlineData("mistral-small-3.2", "mistral")]
    [InlineData("chatml", null)]
    [InlineData("gemma-3", null)]
    public void DetectsTheFormatFromTheTemplate(string template, string? format)
    {
        string source = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "templates", template + ".jinja"));
        Assert.Equal(format, ToolCallFormat.Detect(source)?.Name);
        Assert.Equal(template == "mistral-small-3.2", ToolCallFormat.Detect(source)?.WritesNamedCalls == true);
    }

    [Fact]
    public void IdsAreFreshAndShapedForTheFormat()
    {
        string a = ToolCallIds.New(ToolCallFormat.Hermes), b = ToolCallIds.New(ToolCallFormat.Hermes);
        Assert.NotEqual(a, b);
        Assert.Matches("^call_[A-Za-z0-9]{24}$", a);
        Assert.Matches("^[A-Za-z0-9]{9}$", ToolCallIds.New(ToolCallFormat.Mistral));
    }
}
