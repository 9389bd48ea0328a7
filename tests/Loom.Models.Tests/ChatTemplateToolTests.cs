using System.Text.Json;
using Loom.Models.ChatTemplates;

namespace Loom.Models.Tests;

/// <summary>
/// A whole tool round trip (tools offered, the assistant's call with its content empty as vLLM passes it, the tool's
/// answer, the next generation prompt) through each family's real template, the tools given as JSON the way the server
/// passes them. Expected strings from Python jinja2 3.1.6 in transformers' configuration (see ChatTemplateFixtureTests),
/// and checked by hand against each vendor's documented format: Qwen's and Hermes' &lt;tool_call&gt; and
/// &lt;tool_response&gt; tags, Llama 3.1's JSON call and ipython turn, Mistral's [TOOL_CALLS] and [TOOL_RESULTS].
/// </summary>
public class ChatTemplateToolTests
{
    internal const string WeatherToolJson =
        """{"type":"function","function":{"name":"get_weather","description":"Get the current weather","parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name"}},"required":["city"]}}}""";

    private static Dictionary<string, object?> Tools() =>
        new() { ["tools"] = new List<object?> { JsonDocument.Parse(WeatherToolJson).RootElement } };

    private static List<ChatMessage> RoundTrip(bool withSystem)
    {
        var messages = new List<ChatMessage>();
        if (withSystem) messages.Add(new ChatMessage("system", "You are a helpful assistant"));
        messages.Add(new ChatMessage("user", "Weather in Paris?"));
        messages.Add(new ChatMessage("assistant", "") { ToolCalls = [new ChatToolCall("abcDEF123", "get_weather", """{"city": "Paris"}""")] });
        messages.Add(new ChatMessage("tool", """{"temp": 21}""") { ToolCallId = "abcDEF123", Name = "get_weather" });
        return messages;
    }

    [Theory]
    [InlineData("qwen2.5", null, "<|im_end|>",
        "<|im_start|>system\nYou are a helpful assistant\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name\"}}, \"required\": [\"city\"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>\n<|im_start|>assistant\n")]
    [InlineData("qwen3", null, "<|im_end|>",
        "<|im_start|>system\nYou are a helpful assistant\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name\"}}, \"required\": [\"city\"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>\n<|im_start|>assistant\n")]
    [InlineData("llama-3.1", "<|begin_of_text|>", "<|eot_id|>",
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"description\": \"Get the current weather\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"city\": {\n                    \"type\": \"string\",\n                    \"description\": \"City name\"\n                }\n            },\n            \"required\": [\n                \"city\"\n            ]\n        }\n    }\n}\n\nWeather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"temp\\\": 21}\"<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
    [InlineData("llama-3.2", "<|begin_of_text|>", "<|eot_id|>",
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"description\": \"Get the current weather\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"city\": {\n                    \"type\": \"string\",\n                    \"description\": \"City name\"\n                }\n            },\n            \"required\": [\n                \"city\"\n            ]\n        }\n    }\n}\n\nWeather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"temp\\\": 21}\"<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
    [InlineData("mistral-v0.3", "<s>", "</s>",
        "<s>[AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name\"}}, \"required\": [\"city\"]}}}][/AVAILABLE_TOOLS][INST] Weather in Paris?[/INST][TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abcDEF123\"}]</s>[TOOL_RESULTS] {\"content\": {\"temp\": 21}, \"call_id\": \"abcDEF123\"}[/TOOL_RESULTS]")]
    [InlineData("mistral-nemo", "<s>", "</s>",
        "<s>[AVAILABLE_TOOLS][{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name\"}}, \"required\": [\"city\"]}}}][/AVAILABLE_TOOLS][INST]Weather in Paris?[/INST][TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abcDEF123\"}]</s>[TOOL_RESULTS]{\"content\": {\"temp\": 21}, \"call_id\": \"abcDEF123\"}[/TOOL_RESULTS]")]
    [InlineData("hermes-2-pro-tool-use", "<|begin_of_text|>", "<|im_end|>",
        "<|begin_of_text|>You are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about what values to plug into functions. Here are the available tools: <tools> {\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"get_weather(city: str) - Get the current weather\n\n    Args:\n        city(str): City name\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name\"}}, \"required\": [\"city\"]}} </tools>Use the following pydantic model json schema for each tool call you will make: {\"properties\": {\"arguments\": {\"title\": \"Arguments\", \"type\": \"object\"}, \"name\": {\"title\": \"Name\", \"type\": \"string\"}}, \"required\": [\"arguments\", \"name\"], \"title\": \"FunctionCall\", \"type\": \"object\"}\nFor each function call return a json object with function name and arguments within <tool_call></tool_call> XML tags as follows:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-dict>}\n</tool_call><|im_end|><|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{ \"arguments\": {\"city\": \"Paris\"}, \"name\": \"get_weather\"}\n</tool_call> <|im_end|>\n<|im_start|>tool\n<tool_response>\n{\"name\": \"get_weather\", \"content\": \"{\\\"temp\\\": 21}\"}\n</tool_response> <|im_end|>\n<|im_start|>assistant\n")]
    public void RendersAToolRoundTripLikeTransformers(string template, string? bos, string eos, string expected)
    {
        // Mistral's templates take no system turn before the tools; the others get one.
        var messages = RoundTrip(withSystem: !template.StartsWith("mistral", StringComparison.Ordinal));
        Assert.Equal(expected, ChatTemplateFixtureTests.Load(template).Render(messages, true, bos, eos, Tools()));
    }

    [Fact]
    public void HermesRefusesAToolTurnWithoutTheFunctionName()
    {
        var messages = RoundTrip(true);
        messages[^1] = messages[^1] with { Name = null };
        var e = Assert.Throws<ChatTemplateException>(() => ChatTemplateFixtureTests.Load("hermes-2-pro-tool-use").Render(messages, true, null, null, Tools()));
        Assert.Contains("'name' key", e.Message);
    }

    [Fact]
    public void ArgumentsThatAreNotJsonReachTheTemplateAsText()
    {
        var t = new ChatTemplate("{% for m in messages %}{{ m.tool_calls[0].function.arguments }}|{{ m.tool_calls[0].id }}|{{ m.content is none }}{% endfor %}");
        var m = new ChatMessage("assistant", null) { ToolCalls = [new ChatToolCall("x", "f", "not json")] };
        Assert.Equal("not json|x|True", t.Render([m], false));
    }

    [Fact]
    public void UnsetToolKeysAreUndefined()
    {
        var t = new ChatTemplate("{% for m in messages %}{{ m.tool_calls is defined }} {{ m.tool_call_id is defined }} {{ m.name is defined }}{% endfor %}");
        Assert.Equal("False False False", t.Render([new ChatMessage("user", "hi")], false));
    }
}
