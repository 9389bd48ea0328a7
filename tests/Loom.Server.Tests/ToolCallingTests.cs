using System.ClientModel;
using System.Text;
using System.Text.Json;
using Json.Schema;
using Loom.Engine;
using Loom.Models;
using OpenAI.Chat;

namespace Loom.Server.Tests;

/// <summary>A live server over <see cref="ToolCallingModel"/>, which has Qwen 2.5's tool template.</summary>
public sealed class ToolServerFixture : IAsyncLifetime
{
    private LoadedModel? _model;
    public LlmEngine Engine { get; private set; } = null!;
    public LoomServer Server { get; private set; } = null!;
    public Uri ApiBase => new(Server.BaseAddress, "v1");

    public async Task InitializeAsync()
    {
        _model = ModelLoader.Load(ToolCallingModel.Qwen.Path);
        Engine = new LlmEngine(_model, new EngineOptions { Threads = 1, MaxNumSeqs = 4 });
        Server = LoomServer.Create(Engine, new LoomServerOptions { Port = 0, ApiKey = ServerFixture.ApiKey, ServedModelName = "tools" });
        await Server.StartAsync();
    }

    public ChatClient Chat() => Clients.For(ApiBase, ServerFixture.ApiKey).GetChatClient("tools");

    internal SdkRaw Raw() => new(Clients.For(ApiBase, ServerFixture.ApiKey), ApiBase);

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Engine.Dispose();
        _model?.Dispose();
    }
}

/// <summary>
/// Tool calling end to end through the official OpenAI .NET SDK: a forced call whose arguments validate against the
/// function's schema, the same call streamed as deltas, a tool result round trip, and tool_choice "none".
/// </summary>
public sealed class ToolCallingTests(ToolServerFixture f) : IClassFixture<ToolServerFixture>
{
    internal static ChatTool Weather => ChatTool.CreateFunctionTool("get_weather", "Get the current weather",
        BinaryData.FromString(ToolCallingModel.WeatherParameters));

    private static ChatCompletionOptions Forced() => new()
    {
        Temperature = 0,
        MaxOutputTokenCount = 32,
        Tools = { Weather },
        ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather"),
    };

    internal static void AssertValidArguments(string arguments)
    {
        var schema = JsonSchema.FromText(ToolCallingModel.WeatherParameters);
        var result = schema.Evaluate(JsonDocument.Parse(arguments).RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(result.IsValid, $"arguments {arguments} do not follow the schema");
    }

    [Fact]
    public async Task A_forced_call_comes_back_as_tool_calls_whose_arguments_validate()
    {
        ChatCompletion c = await f.Chat().CompleteChatAsync([new UserChatMessage("Weather in Paris?")], Forced());
        Assert.Equal(ChatFinishReason.ToolCalls, c.FinishReason);
        Assert.Empty(c.Content);
        var call = Assert.Single(c.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Matches("^call_[A-Za-z0-9]{24}$", call.Id);
        AssertValidArguments(call.FunctionArguments.ToString());
        Assert.Equal("Paris", JsonDocument.Parse(call.FunctionArguments.ToString()).RootElement.GetProperty("city").GetString());
    }

    [Fact]
    public async Task Streamed_deltas_reassemble_into_the_same_call()
    {
        ChatCompletion whole = await f.Chat().CompleteChatAsync([new UserChatMessage("Weather in Paris?")], Forced());
        var content = new StringBuilder();
        var arguments = new StringBuilder();
        string? name = null, id = null;
        int argumentPieces = 0;
        ChatFinishReason? finish = null;
        await foreach (var u in f.Chat().CompleteChatStreamingAsync([new UserChatMessage("Weather in Paris?")], Forced()))
        {
            foreach (var part in u.ContentUpdate) content.Append(part.Text);
            foreach (var t in u.ToolCallUpdates)
            {
                Assert.Equal(0, t.Index);
                name ??= t.FunctionName;
                id ??= t.ToolCallId;
                if (t.FunctionArgumentsUpdate is { } a && a.ToMemory().Length > 0) { arguments.Append(a.ToString()); argumentPieces++; }
            }
            finish ??= u.FinishReason;
        }
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.Equal("", content.ToString());
        Assert.Equal(whole.ToolCalls[0].FunctionName, name);
        Assert.Equal(whole.ToolCalls[0].FunctionArguments.ToString(), arguments.ToString());
        Assert.True(argumentPieces > 1, "the arguments should stream in pieces, as the model writes them");
        Assert.Matches("^call_", id);
    }

    [Fact]
    public async Task A_tool_result_goes_back_through_the_template()
    {
        var chat = f.Chat();
        List<ChatMessage> messages = [new UserChatMessage("Weather in Paris?")];
        ChatCompletion first = await chat.CompleteChatAsync(messages, Forced());
        var call = Assert.Single(first.ToolCalls);
        messages.Add(new AssistantChatMessage(first.ToolCalls));
        messages.Add(new ToolChatMessage(call.Id, """{"temp": 21, "sky": "clear"}"""));

        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 32, Tools = { Weather } };
        ChatCompletion second = await chat.CompleteChatAsync(messages, options);
        Assert.Equal(ChatFinishReason.Stop, second.FinishReason);
        Assert.Empty(second.ToolCalls);
        Assert.Equal(ToolCallingModel.Answer, second.Content[0].Text);
        Assert.True(second.Usage.InputTokenCount > first.Usage.InputTokenCount);
    }

    private static ChatCompletionOptions StrictAuto(string parameters) => new()
    {
        Temperature = 0,
        MaxOutputTokenCount = 200,
        Tools = { ChatTool.CreateFunctionTool("get_weather", "Get the current weather", BinaryData.FromString(parameters), functionSchemaIsStrict: true) },
    };

    [Fact]
    public async Task A_strict_tool_under_auto_leaves_a_valid_call_and_a_text_answer_as_they_are()
    {
        var chat = f.Chat();
        List<ChatMessage> messages = [new UserChatMessage("Weather in Paris?")];
        ChatCompletion first = await chat.CompleteChatAsync(messages, StrictAuto(ToolCallingModel.WeatherParameters));
        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal(("get_weather", """{"city": "Paris"}"""), (call.FunctionName, call.FunctionArguments.ToString()));

        messages.Add(new AssistantChatMessage(first.ToolCalls));
        messages.Add(new ToolChatMessage(call.Id, """{"temp": 21}"""));
        ChatCompletion second = await chat.CompleteChatAsync(messages, StrictAuto(ToolCallingModel.WeatherParameters));
        Assert.Equal(ChatFinishReason.Stop, second.FinishReason);
        Assert.Empty(second.ToolCalls);
        Assert.Equal(ToolCallingModel.Answer, second.Content[0].Text);
    }

    [Fact]
    public async Task A_strict_tool_under_auto_holds_the_call_to_its_schema()
    {
        // The model writes "Paris"; the schema allows only "Oslo", so once the call is open the mask steers it there.
        const string onlyOslo = """{"type": "object", "properties": {"city": {"enum": ["Oslo"]}}, "required": ["city"], "additionalProperties": false}""";
        ChatCompletion c = await f.Chat().CompleteChatAsync([new UserChatMessage("Weather in Paris?")], StrictAuto(onlyOslo));
        Assert.Equal(ChatFinishReason.ToolCalls, c.FinishReason);
        Assert.NotEmpty(c.ToolCalls);
        foreach (var call in c.ToolCalls)
        {
            Assert.Equal("get_weather", call.FunctionName);
            Assert.Equal("Oslo", JsonDocument.Parse(call.FunctionArguments.ToString()).RootElement.GetProperty("city").GetString());
        }

        var arguments = new StringBuilder();
        await foreach (var u in f.Chat().CompleteChatStreamingAsync([new UserChatMessage("Weather in Paris?")], StrictAuto(onlyOslo)))
            foreach (var t in u.ToolCallUpdates)
                if (t.Index == 0 && t.FunctionArgumentsUpdate is { } a) arguments.Append(a.ToString());
        Assert.Equal(c.ToolCalls[0].FunctionArguments.ToString(), arguments.ToString());
    }

    [Fact]
    public async Task With_tool_choice_none_the_text_is_not_read_for_calls()
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 32, Tools = { Weather }, ToolChoice = ChatToolChoice.CreateNoneChoice() };
        ChatCompletion c = await f.Chat().CompleteChatAsync([new UserChatMessage("Weather in Paris?")], options);
        Assert.Equal(ChatFinishReason.Stop, c.FinishReason);
        Assert.Empty(c.ToolCalls);
        Assert.Equal(string.Concat(ToolCallingModel.Qwen.Script), c.Content[0].Text);
    }

    [Fact]
    public async Task Each_of_n_choices_gets_its_own_call_whole_and_streamed()
    {
        // One call per choice: with parallel calls the forced output is an array, and this scripted model, which has no
        // notion of closing it, would add calls until max_tokens.
        string body = $$$"""{"messages":[{"role":"user","content":"Weather in Paris?"}],"n":2,"temperature":0,"max_tokens":32,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{{{ToolCallingModel.WeatherParameters}}}}}],"tool_choice":"required","parallel_tool_calls":false}""";
        var r = await f.Raw().PostAsync("chat/completions", body);
        Assert.Equal(200, r.Status);
        var ids = new HashSet<string>();
        foreach (var choice in r.Json.GetProperty("choices").EnumerateArray())
        {
            Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
            var call = choice.GetProperty("message").GetProperty("tool_calls").EnumerateArray().Single();
            Assert.True(ids.Add(call.GetProperty("id").GetString()!));
            AssertValidArguments(call.GetProperty("function").GetProperty("arguments").GetString()!);
        }
        Assert.Equal(2, ids.Count);

        var streamed = await f.Raw().PostAsync("chat/completions", body.Replace("\"n\":2", "\"n\":2,\"stream\":true"));
        var arguments = new Dictionary<int, string>();
        foreach (var line in streamed.Body.Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal)))
        {
            var choice = JsonDocument.Parse(line[6..]).RootElement.GetProperty("choices")[0];
            if (!choice.GetProperty("delta").TryGetProperty("tool_calls", out var calls)) continue;
            foreach (var t in calls.EnumerateArray())
            {
                Assert.Equal(0, t.GetProperty("index").GetInt32());
                int i = choice.GetProperty("index").GetInt32();
                arguments[i] = arguments.GetValueOrDefault(i, "") + t.GetProperty("function").GetProperty("arguments").GetString();
            }
        }
        Assert.Equal([0, 1], arguments.Keys.Order());
        foreach (var a in arguments.Values) AssertValidArguments(a);
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"get_weather"}}],"tool_choice":{"type":"function","function":{"name":"nope"}}}""", "tool_choice")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tool_choice":"required"}""", "tool_choice")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":"maybe"}""", "tool_choice")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"retrieval","function":{"name":"a"}}]}""", "tools[0].type")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function"}]}""", "tools[0].function")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a b"}}]}""", "tools[0].function.name")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"a"}}]}""", "tools[1].function.name")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a","parameters":[1]}}]}""", "tools[0].function.parameters")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tools":[]}""", "tools")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tools":"get_weather"}""", "tools")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"},{"role":"tool","content":"21"}]}""", "messages")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"},{"role":"tool","content":"21","tool_call_id":"call_x"}]}""", "messages")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f"}}]}]}""", "messages")]
    [InlineData("""{"messages":[{"role":"user","content":"hi","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]}""", "messages")]
    public async Task Malformed_tool_requests_are_400s_naming_the_field(string body, string param)
    {
        var r = await f.Raw().PostAsync("chat/completions", body);
        Assert.Equal(400, r.Status);
        Assert.Equal(param, r.Error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task A_template_without_tool_calls_refuses_tools()
    {
        await using var server = LoomServer.Create(f.Engine, new LoomServerOptions { Port = 0, ApiKey = ServerFixture.ApiKey, ServedModelName = "tools", ChatTemplate = TestModels.Template });
        await server.StartAsync();
        var raw = new SdkRaw(Clients.For(new Uri(server.BaseAddress, "v1"), ServerFixture.ApiKey), new Uri(server.BaseAddress, "v1"));
        var r = await raw.PostAsync("chat/completions", """{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a"}}]}""");
        Assert.Equal(400, r.Status);
        Assert.Equal("tools", r.Error.GetProperty("param").GetString());
        Assert.Contains("does not describe tool calls", r.Error.GetProperty("message").GetString());
    }
}

/// <summary>
/// Mistral's format, whose marker [TOOL_CALLS] is a control token: the server must keep special tokens in the text
/// for the parser to see the call, and Mistral's templates need 9-character ids.
/// </summary>
public sealed class MistralToolCallingTests
{
    [Fact]
    public async Task A_call_behind_a_control_token_is_found_whole_and_streamed()
    {
        using var model = ModelLoader.Load(ToolCallingModel.Mistral.Path);
        using var engine = new LlmEngine(model, new EngineOptions { Threads = 1, MaxNumSeqs = 2 });
        await using var server = LoomServer.Create(engine, new LoomServerOptions { Port = 0, ServedModelName = "tools" });
        await server.StartAsync();
        var chat = Clients.For(new Uri(server.BaseAddress, "v1"), "unused").GetChatClient("tools");
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16, Tools = { ToolCallingTests.Weather }, ToolChoice = ChatToolChoice.CreateRequiredChoice() };

        ChatCompletion c = await chat.CompleteChatAsync([new UserChatMessage("Weather in Paris?")], options);
        Assert.Equal(ChatFinishReason.ToolCalls, c.FinishReason);
        var call = Assert.Single(c.ToolCalls);
        Assert.Matches("^[A-Za-z0-9]{9}$", call.Id);
        Assert.Equal("get_weather", call.FunctionName);
        ToolCallingTests.AssertValidArguments(call.FunctionArguments.ToString());

        var arguments = new StringBuilder();
        await foreach (var u in chat.CompleteChatStreamingAsync([new UserChatMessage("Weather in Paris?")], options))
            foreach (var t in u.ToolCallUpdates)
                if (t.FunctionArgumentsUpdate is { } a) arguments.Append(a.ToString());
        Assert.Equal(call.FunctionArguments.ToString(), arguments.ToString());

        // A strict tool under "auto": the constraint's mask must allow the control token that opens the calls.
        var strict = new ChatCompletionOptions
        {
            Temperature = 0, MaxOutputTokenCount = 16,
            Tools = { ChatTool.CreateFunctionTool("get_weather", "Get the current weather", BinaryData.FromString(ToolCallingModel.WeatherParameters), functionSchemaIsStrict: true) },
        };
        ChatCompletion auto = await chat.CompleteChatAsync([new UserChatMessage("Weather in Paris?")], strict);
        Assert.Equal(ChatFinishReason.ToolCalls, auto.FinishReason);
        Assert.Equal(call.FunctionArguments.ToString(), Assert.Single(auto.ToolCalls).FunctionArguments.ToString());

        // Without tools the same output is plain text, and its control token is left out as usual.
        ChatCompletion plain = await chat.CompleteChatAsync([new UserChatMessage("Weather in Paris?")], new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16 });
        Assert.Equal(string.Concat(ToolCallingModel.Mistral.Script.Skip(1)), plain.Content[0].Text);
    }
}

/// <summary>
/// A reasoning template (Qwen 3's): the model's think block comes back as <c>reasoning_content</c>, whole and streamed as
/// <c>delta.reasoning_content</c>, and the call after it is still found.
/// </summary>
public sealed class ReasoningServerTests
{
    [Fact]
    public async Task Thinking_goes_to_reasoning_content_and_the_call_still_comes_through()
    {
        using var model = ModelLoader.Load(ToolCallingModel.QwenThinking.Path);
        using var engine = new LlmEngine(model, new EngineOptions { Threads = 1, MaxNumSeqs = 2 });
        await using var server = LoomServer.Create(engine, new LoomServerOptions { Port = 0, ServedModelName = "tools" });
        await server.StartAsync();
        var apiBase = new Uri(server.BaseAddress, "v1");
        var raw = new SdkRaw(Clients.For(apiBase, "unused"), apiBase);
        var tools = new[] { new { type = "function", function = new { name = "get_weather", parameters = JsonDocument.Parse(ToolCallingModel.WeatherParameters).RootElement } } };
        var body = new Dictionary<string, object>
        {
            ["model"] = "tools", ["temperature"] = 0, ["max_tokens"] = 16, ["tools"] = tools,
            ["messages"] = new[] { new { role = "user", content = "Weather in Paris?" } },
        };

        var whole = await raw.PostAsync("chat/completions", body);
        Assert.Equal(200, whole.Status);
        var message = whole.Json.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal("\nI need the weather.\n", message.GetProperty("reasoning_content").GetString());
        Assert.Equal(JsonValueKind.Null, message.GetProperty("content").ValueKind);
        var call = message.GetProperty("tool_calls")[0].GetProperty("function");
        Assert.Equal("get_weather", call.GetProperty("name").GetString());
        Assert.Equal("""{"city": "Paris"}""", call.GetProperty("arguments").GetString());

        body["stream"] = true;
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        foreach (var e in (await raw.StreamAsync("chat/completions", body)).SkipLast(1))
        {
            var delta = JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("delta");
            if (delta.TryGetProperty("reasoning_content", out var r)) reasoning.Append(r.GetString());
            if (delta.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String) content.Append(c.GetString());
        }
        Assert.Equal("\nI need the weather.\n", reasoning.ToString());
        Assert.Equal("", content.ToString());
    }
}
