using System.Text;
using Loom.Server.Generation;
using Loom.Server.Tools;

namespace Loom.Server.Tests;

/// <summary>
/// Reasoning split from the answer (Qwen 3, DeepSeek-R1): the same split whatever the text's pieces as it streams,
/// the reasoning out of the content and out of the tool-call parser's sight, and the response fields it fills.
/// </summary>
public class ReasoningSplitterTests
{
    private static (string Reasoning, string Content) Split(string text, bool inside, int[] cuts)
    {
        var splitter = new ReasoningSplitter(inside);
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        int at = 0;
        foreach (int cut in cuts.Append(text.Length))
        {
            splitter.Add(text.AsSpan(at, cut - at), reasoning, content);
            at = cut;
        }
        splitter.Finish(reasoning, content);
        return (reasoning.ToString(), content.ToString());
    }

    [Theory]
    [InlineData("<think>\nLet me see.\n</think>\n\nIt is 4.", false, "\nLet me see.\n", "It is 4.")]
    [InlineData("\n <think>a < b </thin</think>yes", false, "a < b </thin", "yes")]
    [InlineData("It is 4. <think>no</think>", false, "", "It is 4. <think>no</think>")]
    [InlineData("<thin", false, "", "<thin")]
    [InlineData("  ", false, "", "  ")]
    [InlineData("First, 2+2.\n</think>\n\n4", true, "First, 2+2.\n", "4")]
    [InlineData("still thinking </thi", true, "still thinking </thi", "")]
    [InlineData("<think></think>\n\n", false, "", "")]
    public void Splits_alike_however_the_text_is_cut(string text, bool inside, string reasoning, string content)
    {
        Assert.Equal((reasoning, content), Split(text, inside, []));
        for (int a = 0; a <= text.Length; a++)
            for (int b = a; b <= text.Length; b++)
                Assert.Equal((reasoning, content), Split(text, inside, [a, b]));
        Assert.Equal((reasoning, content), Split(text, inside, Enumerable.Range(1, Math.Max(0, text.Length - 1)).ToArray()));
    }

    [Fact]
    public void Reasoning_templates_are_recognised_and_an_opened_prompt_starts_inside()
    {
        string Template(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "templates", name + ".jinja"));
        Assert.True(ReasoningSplitter.TemplateReasons(Template("qwen3")));
        Assert.True(ReasoningSplitter.TemplateReasons(Template("deepseek-r1")));
        Assert.False(ReasoningSplitter.TemplateReasons(Template("qwen2.5")));
        Assert.True(ReasoningSplitter.PromptOpensReasoning("<｜Assistant｜><think>\n"));
        Assert.False(ReasoningSplitter.PromptOpensReasoning("<|im_start|>assistant\n"));
    }

    private const string Thought = "<think>\nThe user wants the weather; I should call get_weather.\n</think>\n\n";
    private const string Call = "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>";

    private static ToolPlan Plan() => ToolPlan.Create(
        [new ToolDefinition("get_weather", null, System.Text.Json.JsonDocument.Parse(ToolCallingModel.WeatherParameters).RootElement, false)],
        ToolChoice.Auto, true, ToolCallFormat.Hermes)!;

    [Fact]
    public void A_whole_answer_carries_reasoning_content_apart_from_the_call()
    {
        var message = ChatDeltaBuilder.Message(Plan(), Thought + Call, out bool called, new ReasoningSplitter(false));
        Assert.True(called);
        Assert.Equal("\nThe user wants the weather; I should call get_weather.\n", message.ReasoningContent);
        Assert.Null(message.Content);
        Assert.Equal("get_weather", Assert.Single(message.ToolCalls!).Function.Name);

        var plain = ChatDeltaBuilder.Message(null, "<think>hm</think>\n\nHello.", out _, new ReasoningSplitter(false));
        Assert.Equal(("hm", "Hello."), (plain.ReasoningContent, plain.Content));
    }

    [Fact]
    public void Streamed_deltas_send_reasoning_then_content_and_calls()
    {
        string text = Thought + "Checking." + Call;
        var builder = new ChatDeltaBuilder(Plan().NewParser(), new ReasoningSplitter(false));
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        var arguments = new StringBuilder();
        bool contentSeen = false;
        for (int i = 0; i < text.Length; i += 3)
        {
            var d = builder.Next(text.Substring(i, Math.Min(3, text.Length - i)), last: i + 3 >= text.Length);
            if (d.ReasoningContent is { } r)
            {
                Assert.False(contentSeen, "reasoning comes before content");
                reasoning.Append(r);
            }
            if (!string.IsNullOrEmpty(d.Content)) { contentSeen = true; content.Append(d.Content); }
            foreach (var c in d.ToolCalls ?? []) arguments.Append(c.Function.Arguments);
        }
        Assert.Equal("\nThe user wants the weather; I should call get_weather.\n", reasoning.ToString());
        Assert.Equal("Checking.", content.ToString());
        Assert.Equal("{\"city\": \"Paris\"}", arguments.ToString());
        Assert.True(builder.HasCalls);
    }
}
