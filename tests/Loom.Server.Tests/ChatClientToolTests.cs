using System.Text;
using Loom.Server.InProcess;
using Microsoft.Extensions.AI;

namespace Loom.Server.Tests;

/// <summary>
/// Microsoft.Extensions.AI's <c>FunctionInvokingChatClient</c> over <see cref="LoomChatClient"/>, in process, on the
/// model that calls get_weather: the call is parsed into a FunctionCallContent, the .NET function runs with its
/// arguments, and its result goes back through the template to the model's final answer.
/// </summary>
public sealed class ChatClientToolTests(ToolServerFixture f) : IClassFixture<ToolServerFixture>
{
    private sealed class Weather
    {
        public List<string> Cities { get; } = [];

        public AIFunction Function => AIFunctionFactory.Create((string city) =>
        {
            Cities.Add(city);
            return new { temp = 21, sky = "clear" };
        }, "get_weather", "Get the current weather");
    }

    private static ChatOptions Options(Weather w) => new()
    {
        Temperature = 0,
        MaxOutputTokens = 32,
        Tools = [w.Function],
        ToolMode = ChatToolMode.RequireSpecific("get_weather"),
    };

    [Fact]
    public async Task Function_invocation_runs_the_call_and_returns_the_answer()
    {
        var weather = new Weather();
        IChatClient client = new LoomChatClient(f.Engine).AsBuilder().UseFunctionInvocation().Build();
        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Weather in Paris?")], Options(weather));
        Assert.Equal(["Paris"], weather.Cities);
        Assert.Equal(ToolCallingModel.Answer, response.Text);
        // The history it returns holds the call and its result, as FunctionInvokingChatClient records them.
        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", call.Arguments!["city"]!.ToString());
        var result = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>());
        Assert.Equal(call.CallId, result.CallId);
    }

    [Fact]
    public async Task Function_invocation_works_streamed()
    {
        var weather = new Weather();
        IChatClient client = new LoomChatClient(f.Engine).AsBuilder().UseFunctionInvocation().Build();
        var text = new StringBuilder();
        await foreach (var u in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Weather in Paris?")], Options(weather)))
            text.Append(u.Text);
        Assert.Equal(["Paris"], weather.Cities);
        Assert.Equal(ToolCallingModel.Answer, text.ToString());
    }

    [Fact]
    public async Task Without_invocation_the_call_comes_back_as_content()
    {
        IChatClient client = new LoomChatClient(f.Engine);
        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Weather in Paris?")], Options(new Weather()));
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        var call = Assert.IsType<FunctionCallContent>(Assert.Single(response.Messages.Single().Contents));
        Assert.Matches("^call_", call.CallId);
        Assert.Null(call.Exception);
        Assert.Equal("Paris", call.Arguments!["city"]!.ToString());
    }

    [Fact]
    public async Task A_tool_mode_naming_an_unknown_function_is_refused()
    {
        IChatClient client = new LoomChatClient(f.Engine);
        var options = Options(new Weather());
        options.ToolMode = ChatToolMode.RequireSpecific("nope");
        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], options));
        Assert.Equal("options.ToolMode", e.ParamName);
    }
}
