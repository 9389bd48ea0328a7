using Loom.Models.ChatTemplates;

namespace Loom.Models.Tests;

/// <summary>
/// The chat templates of the families Loom runs beyond Llama and Qwen 2 (Mixtral, Qwen3, DeepSeek V2/V3/R1, Gemma 2/3,
/// Phi-3/Phi-4-mini), as their tokenizer_config.json ships them (Fixtures/templates; gemma, deepseek-v3/r1, qwen3 and
/// phi-3 are also rendered by <see cref="ChatTemplateFixtureTests"/>), on a multi-turn conversation. Each expected string
/// is what Python jinja2 3.1.6 renders in transformers' configuration (see <see cref="ChatTemplateFixtureTests"/>),
/// checked by hand against the template.
/// </summary>
public class ChatTemplateFamilyTests
{
    private const string DsBos = "<｜begin▁of▁sentence｜>", DsEos = "<｜end▁of▁sentence｜>";

    [Theory]
    // Mixtral-8x7B-Instruct-v0.1: the system message joins the first [INST]; add_generation_prompt changes nothing.
    [InlineData("mixtral", true, true, "<s>", "</s>", "<s> [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]")]
    [InlineData("mixtral", true, false, "<s>", "</s>", "<s> [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]")]
    [InlineData("mixtral", false, true, "<s>", "</s>", "<s> [INST] Hello [/INST] Hi there</s> [INST] Who are you [/INST]")]
    [InlineData("mixtral", false, false, "<s>", "</s>", "<s> [INST] Hello [/INST] Hi there</s> [INST] Who are you [/INST]")]
    // DeepSeek-V2-Chat and V2-Lite-Chat.
    [InlineData("deepseek-v2", true, true, DsBos, DsEos, DsBos + "You are a helpful assistant\n\nUser: Hello\n\nAssistant: Hi there" + DsEos + "User: Who are you\n\nAssistant:")]
    [InlineData("deepseek-v2", true, false, DsBos, DsEos, DsBos + "You are a helpful assistant\n\nUser: Hello\n\nAssistant: Hi there" + DsEos + "User: Who are you\n\n")]
    [InlineData("deepseek-v2", false, true, DsBos, DsEos, DsBos + "User: Hello\n\nAssistant: Hi there" + DsEos + "User: Who are you\n\nAssistant:")]
    [InlineData("deepseek-v2", false, false, DsBos, DsEos, DsBos + "User: Hello\n\nAssistant: Hi there" + DsEos + "User: Who are you\n\n")]
    // Phi-4-mini-instruct: `'tools' in message` is false for a message without tools.
    [InlineData("phi-4-mini", true, true, "<|endoftext|>", "<|endoftext|>", "<|system|>You are a helpful assistant<|end|><|user|>Hello<|end|><|assistant|>Hi there<|end|><|user|>Who are you<|end|><|assistant|>")]
    [InlineData("phi-4-mini", true, false, "<|endoftext|>", "<|endoftext|>", "<|system|>You are a helpful assistant<|end|><|user|>Hello<|end|><|assistant|>Hi there<|end|><|user|>Who are you<|end|><|endoftext|>")]
    [InlineData("phi-4-mini", false, true, "<|endoftext|>", "<|endoftext|>", "<|user|>Hello<|end|><|assistant|>Hi there<|end|><|user|>Who are you<|end|><|assistant|>")]
    [InlineData("phi-4-mini", false, false, "<|endoftext|>", "<|endoftext|>", "<|user|>Hello<|end|><|assistant|>Hi there<|end|><|user|>Who are you<|end|><|endoftext|>")]
    public void RendersLikeTransformers(string template, bool withSystem, bool addGenerationPrompt, string? bos, string? eos, string expected) =>
        Assert.Equal(expected, ChatTemplateFixtureTests.Load(template).Render(ChatTemplateFixtureTests.Conversation(withSystem), addGenerationPrompt, bos, eos));

    /// <summary>Mixtral refuses what its template refuses, with the template's own message.</summary>
    [Theory]
    [InlineData("user", "user")]
    [InlineData("assistant", "system")]
    public void MixtralRaisesOnBrokenAlternation(string second, string third)
    {
        var messages = new List<ChatMessage> { new("user", "a"), new(second, "b") };
        if (second == "assistant") messages.Add(new(third, "c"));
        var e = Assert.Throws<ChatTemplateException>(() => ChatTemplateFixtureTests.Load("mixtral").Render(messages, true, "<s>", "</s>"));
        Assert.True(e.RaisedByTemplate);
        Assert.Equal("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...", e.Message);
    }

    /// <summary>
    /// A system message and an earlier assistant turn that thought aloud (its <c>&lt;think&gt;</c> block inside the
    /// content, as a client sends back what it got), then a new question: each template's own way with the reasoning.
    /// </summary>
    [Theory]
    // Qwen3 drops earlier turns' reasoning; enable_thinking=false adds an empty think block to the generation prompt.
    [InlineData("qwen3", null, "<|im_end|>", false,
        "<|im_start|>system\nBe brief<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\nIt is 4.<|im_end|>\n<|im_start|>user\nand 3+3?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")]
    [InlineData("qwen3", null, "<|im_end|>", true,
        "<|im_start|>system\nBe brief<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\nIt is 4.<|im_end|>\n<|im_start|>user\nand 3+3?<|im_end|>\n<|im_start|>assistant\n")]
    // DeepSeek-R1 cuts at </think> and opens a think block itself; V3 keeps the content as it is.
    [InlineData("deepseek-r1", DsBos, DsEos, true, DsBos + "Be brief<｜User｜>2+2?<｜Assistant｜>\n\nIt is 4." + DsEos + "<｜User｜>and 3+3?<｜Assistant｜><think>\n")]
    [InlineData("deepseek-v3", DsBos, DsEos, true, DsBos + "Be brief<｜User｜>2+2?<｜Assistant｜><think>\nadd them\n</think>\n\nIt is 4." + DsEos + "<｜User｜>and 3+3?<｜Assistant｜>")]
    // Gemma 3 folds the system message into the first user turn and calls the assistant "model".
    [InlineData("gemma-3", "<bos>", "<eos>", true,
        "<bos><start_of_turn>user\nBe brief\n\n2+2?<end_of_turn>\n<start_of_turn>model\n<think>\nadd them\n</think>\n\nIt is 4.<end_of_turn>\n<start_of_turn>user\nand 3+3?<end_of_turn>\n<start_of_turn>model\n")]
    public void ReasoningHistory(string template, string? bos, string? eos, bool thinking, string expected)
    {
        var messages = new List<ChatMessage>
        {
            new("system", "Be brief"), new("user", "2+2?"), new("assistant", "<think>\nadd them\n</think>\n\nIt is 4."), new("user", "and 3+3?"),
        };
        var extra = thinking ? null : new Dictionary<string, object?> { ["enable_thinking"] = false };
        Assert.Equal(expected, ChatTemplateFixtureTests.Load(template).Render(messages, true, bos, eos, extra));
    }
}
