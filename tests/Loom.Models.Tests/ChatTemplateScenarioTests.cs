using Loom.Models.ChatTemplates;

namespace Loom.Models.Tests;

/// <summary>
/// Real templates with tools, reasoning history, template switches (enable_thinking, date_string), and role errors;
/// expected strings from Python jinja2 in transformers' configuration.
/// </summary>
public class ChatTemplateScenarioTests
{
    private static readonly Dictionary<string, object?> WeatherTool = new()
    {
        ["type"] = "function",
        ["function"] = new Dictionary<string, object?>
        {
            ["name"] = "get_weather",
            ["description"] = "Get the current weather",
            ["parameters"] = new Dictionary<string, object?>
            {
                ["type"] = "object",
                ["properties"] = new Dictionary<string, object?>
                {
                    ["city"] = new Dictionary<string, object?> { ["type"] = "string", ["description"] = "City name" },
                },
                ["required"] = new List<object?> { "city" },
            },
        },
    };

    private static (List<ChatMessage> Messages, Dictionary<string, object?> Extra) Scenario(string id)
    {
        var basic = new List<ChatMessage> { new("system", "You are a helpful assistant"), new("user", "Hello") };
        var think = new List<ChatMessage>
        {
            new("user", "2+2?"), new("assistant", "<think>\nadd them\n</think>\n\nIt is 4."), new("user", "and 3+3?"),
        };
        var tools = new Dictionary<string, object?> { ["tools"] = new List<object?> { WeatherTool } };
        return id switch
        {
            "qwen3-no-thinking" => (basic, new() { ["enable_thinking"] = false }),
            "qwen3-history-reasoning" or "deepseek-r1-history-reasoning" => (think, new()),
            "qwen3-last-reasoning" => (think.Take(2).ToList(), new()),
            "qwen2.5-tools" or "qwen3-tools" or "llama-3.1-tools" or "mistral-nemo-tools" => (basic, tools),
            "llama-3.2-date" => (basic, new() { ["date_string"] = "01 Jan 2025" }),
            "gemma-3-alternation" or "mistral-v0.3-alternation" => (new() { new("user", "a"), new("user", "b") }, new()),
            "mistral-v0.1-roles" or "phi-3.5-tool-role-ignored" => (new() { new("user", "a"), new("tool", "b") }, new()),
            _ => throw new ArgumentException(id),
        };
    }

    [Theory]
    [InlineData("qwen3-no-thinking", "qwen3", true, null, "<|im_end|>", false,
        "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")]
    [InlineData("qwen3-history-reasoning", "qwen3", true, null, "<|im_end|>", false,
        "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\nIt is 4.<|im_end|>\n<|im_start|>user\nand 3+3?<|im_end|>\n<|im_start|>assistant\n")]
    [InlineData("qwen3-last-reasoning", "qwen3", false, null, "<|im_end|>", false,
        "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n<think>\nadd them\n</think>\n\nIt is 4.<|im_end|>\n")]
    [InlineData("qwen2.5-tools", "qwen2.5", true, null, "<|im_end|>", false,
        "<|im_start|>system\nYou are a helpful assistant\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name\"}}, \"required\": [\"city\"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n")]
    [InlineData("qwen3-tools", "qwen3", true, null, "<|im_end|>", false,
        "<|im_start|>system\nYou are a helpful assistant\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name\"}}, \"required\": [\"city\"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n")]
    [InlineData("llama-3.1-tools", "llama-3.1", true, "<|begin_of_text|>", "<|eot_id|>", false,
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"description\": \"Get the current weather\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"city\": {\n                    \"type\": \"string\",\n                    \"description\": \"City name\"\n                }\n            },\n            \"required\": [\n                \"city\"\n            ]\n        }\n    }\n}\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
    [InlineData("llama-3.2-date", "llama-3.2", true, "<|begin_of_text|>", "<|eot_id|>", false,
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
    [InlineData("mistral-nemo-tools", "mistral-nemo", true, "<s>", "</s>", false,
        "<s>[AVAILABLE_TOOLS][{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name\"}}, \"required\": [\"city\"]}}}][/AVAILABLE_TOOLS][INST]You are a helpful assistant\n\nHello[/INST]")]
    [InlineData("deepseek-r1-history-reasoning", "deepseek-r1", true, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", false,
        "<｜begin▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜>\n\nIt is 4.<｜end▁of▁sentence｜><｜User｜>and 3+3?<｜Assistant｜><think>\n")]
    [InlineData("gemma-3-alternation", "gemma-3", true, "<bos>", "<eos>", true,
        "Conversation roles must alternate user/assistant/user/assistant/...")]
    [InlineData("mistral-v0.1-roles", "mistral-v0.1", true, "<s>", "</s>", true,
        "Only user and assistant roles are supported!")]
    [InlineData("mistral-v0.3-alternation", "mistral-v0.3", true, "<s>", "</s>", true,
        "After the optional system message, conversation roles must alternate user/assistant/user/assistant/...")]
    [InlineData("phi-3.5-tool-role-ignored", "phi-3.5", true, "<s>", "<|endoftext|>", false,
        "<|user|>\na<|end|>\n<|assistant|>\n")]
    public void RendersLikeTransformers(string id, string template, bool addGenerationPrompt, string? bos, string? eos, bool raises, string expected)
    {
        var (messages, extra) = Scenario(id);
        var t = ChatTemplateFixtureTests.Load(template);
        if (raises)
            Assert.Equal(expected, Assert.Throws<ChatTemplateException>(() => t.Render(messages, addGenerationPrompt, bos, eos, extra)).Message);
        else
            Assert.Equal(expected, t.Render(messages, addGenerationPrompt, bos, eos, extra));
    }
}
