using System.Diagnostics;
using System.Text;
using Loom.Server.Tools;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Server.Tests;

/// <summary>
/// What a model writes is arbitrary text: the tool-call parser must take any of it, split anywhere, without throwing,
/// and give the same message (content and calls) however the text arrives.
/// </summary>
public class ToolCallParserFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] Fragments =
    [
        "<tool_call>", "</tool_call>", "<|python_tag|>", "[TOOL_CALLS]", "{", "}", "[", "]", "\"", "\\\"", ":", ",", " ", "\n",
        "\"name\"", "\"arguments\"", "\"parameters\"", "\"get_weather\"", "{\"city\": \"Paris\"}", "null", "true", "12.5e3",
        "Hello", "é", "😀", "\\u00e9", "<tool", "_call>", "TOOL", "{\"name\": \"f\", \"arguments\": {}}",
    ];

    private static readonly ToolCallFormat[] Formats = [ToolCallFormat.Hermes, ToolCallFormat.Llama3, ToolCallFormat.Json, ToolCallFormat.Mistral];

    [Fact]
    public void AnyTextSplitAnywhereParsesAlike()
    {
        var rng = new Random(FuzzBudget.Seed);
        var box = FuzzBudget.Box(4);
        int cap = FuzzBudget.Cap(5000), runs = 0, withCalls = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < box && runs < cap)
        {
            var format = Formats[rng.Next(Formats.Length)];
            var sb = new StringBuilder();
            int parts = rng.Next(1, 14);
            for (int i = 0; i < parts; i++) sb.Append(Fragments[rng.Next(Fragments.Length)]);
            string text = sb.ToString();
            string whole, streamed;
            try
            {
                whole = Describe(ParsedToolCalls.Parse(format, text, Ids()));
                streamed = Describe(Stream(format, text, rng));
            }
            catch (Exception e)
            {
                Assert.Fail($"{format.Name} {Quote(text)} threw {e.GetType().Name}: {e.Message}");
                return;
            }
            Assert.True(whole == streamed, $"{format.Name} {Quote(text)}: whole {whole} but streamed {streamed}");
            if (whole.Contains("calls=[") && !whole.Contains("calls=[]")) withCalls++;
            runs++;
        }
        output.WriteLine($"{runs} texts, {withCalls} with calls");
        Assert.True(runs > 100, $"only {runs} texts ran");
    }

    private static ParsedToolCalls Stream(ToolCallFormat format, string text, Random rng)
    {
        var parser = new ToolCallStreamParser(format, Ids());
        var events = new List<ToolCallEvent>();
        for (int at = 0; at < text.Length;)
        {
            int len = Math.Min(text.Length - at, 1 + rng.Next(6));
            parser.Add(text.AsSpan(at, len), events);
            at += len;
        }
        parser.Finish(events);
        var result = new ParsedToolCalls();
        result.AddRange(events);
        return result;
    }

    private static Func<string> Ids()
    {
        int n = 0;
        return () => $"id{n++}";
    }

    private static string Describe(ParsedToolCalls p) =>
        $"content={Quote(p.Content)} calls=[{string.Join("|", p.Calls.Select(c => $"{c.Id}:{c.Name}({c.Arguments})"))}]";

    private static string Quote(string? s) => System.Text.Json.JsonSerializer.Serialize(s);
}
