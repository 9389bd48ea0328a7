using Loom.Models.ChatTemplates;

namespace Loom.Models.Tests;

/// <summary>
/// The real chat templates of each model family (Fixtures/templates), rendered for [system?, user, assistant, user].
/// Expected strings were produced by Python jinja2 3.1.6 configured as transformers' apply_chat_template configures it
/// (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, its tojson/raise_exception/strftime_now,
/// tools=None, clock pinned to 2024-07-26 13:05:09).
/// </summary>
public class ChatTemplateFixtureTests
{
    internal static readonly DateTime PinnedNow = new(2024, 7, 26, 13, 5, 9);

    internal static ChatTemplate Load(string name) =>
        new(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "templates", name + ".jinja"))) { Clock = () => PinnedNow };

    internal static List<ChatMessage> Conversation(bool withSystem)
    {
        var messages = new List<ChatMessage>();
        if (withSystem) messages.Add(new ChatMessage("system", "You are a helpful assistant"));
        messages.Add(new ChatMessage("user", "Hello"));
        messages.Add(new ChatMessage("assistant", "Hi there"));
        messages.Add(new ChatMessage("user", "Who are you"));
        return messages;
    }

    [Theory]
        [InlineData("llama-3", true, true, "<|begin_of_text|>", "<|eot_id|>", false,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
        [InlineData("llama-3", true, false, "<|begin_of_text|>", "<|eot_id|>", false,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>")]
        [InlineData("llama-3", false, true, "<|begin_of_text|>", "<|eot_id|>", false,
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
        [InlineData("llama-3", false, false, "<|begin_of_text|>", "<|eot_id|>", false,
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>")]
        [InlineData("llama-3.1", true, true, "<|begin_of_text|>", "<|eot_id|>", false,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
        [InlineData("llama-3.1", true, false, "<|begin_of_text|>", "<|eot_id|>", false,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>")]
        [InlineData("llama-3.1", false, true, "<|begin_of_text|>", "<|eot_id|>", false,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
        [InlineData("llama-3.1", false, false, "<|begin_of_text|>", "<|eot_id|>", false,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>")]
        [InlineData("llama-3.2", true, true, "<|begin_of_text|>", "<|eot_id|>", false,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
        [InlineData("llama-3.2", true, false, "<|begin_of_text|>", "<|eot_id|>", false,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>")]
        [InlineData("llama-3.2", false, true, "<|begin_of_text|>", "<|eot_id|>", false,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
        [InlineData("llama-3.2", false, false, "<|begin_of_text|>", "<|eot_id|>", false,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>")]
        [InlineData("qwen2.5", true, true, null, "<|im_end|>", false,
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n")]
        [InlineData("qwen2.5", true, false, null, "<|im_end|>", false,
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n")]
        [InlineData("qwen2.5", false, true, null, "<|im_end|>", false,
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n")]
        [InlineData("qwen2.5", false, false, null, "<|im_end|>", false,
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n")]
        [InlineData("qwen3", true, true, null, "<|im_end|>", false,
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n")]
        [InlineData("qwen3", true, false, null, "<|im_end|>", false,
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n")]
        [InlineData("qwen3", false, true, null, "<|im_end|>", false,
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n")]
        [InlineData("qwen3", false, false, null, "<|im_end|>", false,
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n")]
        [InlineData("chatml", true, true, null, "<|im_end|>", false,
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n")]
        [InlineData("chatml", true, false, null, "<|im_end|>", false,
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n")]
        [InlineData("chatml", false, true, null, "<|im_end|>", false,
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n")]
        [InlineData("chatml", false, false, null, "<|im_end|>", false,
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n")]
        [InlineData("smollm", true, true, null, "<|im_end|>", false,
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n")]
        [InlineData("smollm", true, false, null, "<|im_end|>", false,
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n")]
        [InlineData("smollm", false, true, null, "<|im_end|>", false,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n")]
        [InlineData("smollm", false, false, null, "<|im_end|>", false,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n")]
        [InlineData("mistral-v0.1", true, true, "<s>", "</s>", true,
            "Conversation roles must alternate user/assistant/user/assistant/...")]
        [InlineData("mistral-v0.1", true, false, "<s>", "</s>", true,
            "Conversation roles must alternate user/assistant/user/assistant/...")]
        [InlineData("mistral-v0.1", false, true, "<s>", "</s>", false,
            "<s>[INST] Hello [/INST]Hi there</s>[INST] Who are you [/INST]")]
        [InlineData("mistral-v0.1", false, false, "<s>", "</s>", false,
            "<s>[INST] Hello [/INST]Hi there</s>[INST] Who are you [/INST]")]
        [InlineData("mistral-v0.3", true, true, "<s>", "</s>", false,
            "<s>[INST] Hello[/INST] Hi there</s>[INST] You are a helpful assistant\n\nWho are you[/INST]")]
        [InlineData("mistral-v0.3", true, false, "<s>", "</s>", false,
            "<s>[INST] Hello[/INST] Hi there</s>[INST] You are a helpful assistant\n\nWho are you[/INST]")]
        [InlineData("mistral-v0.3", false, true, "<s>", "</s>", false,
            "<s>[INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST]")]
        [InlineData("mistral-v0.3", false, false, "<s>", "</s>", false,
            "<s>[INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST]")]
        [InlineData("mistral-nemo", true, true, "<s>", "</s>", false,
            "<s>[INST]Hello[/INST]Hi there</s>[INST]You are a helpful assistant\n\nWho are you[/INST]")]
        [InlineData("mistral-nemo", true, false, "<s>", "</s>", false,
            "<s>[INST]Hello[/INST]Hi there</s>[INST]You are a helpful assistant\n\nWho are you[/INST]")]
        [InlineData("mistral-nemo", false, true, "<s>", "</s>", false,
            "<s>[INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]")]
        [InlineData("mistral-nemo", false, false, "<s>", "</s>", false,
            "<s>[INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]")]
        [InlineData("mistral-small-3.2", true, true, "<s>", "</s>", false,
            "<s>[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT][INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]")]
        [InlineData("mistral-small-3.2", true, false, "<s>", "</s>", false,
            "<s>[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT][INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]")]
        [InlineData("mistral-small-3.2", false, true, "<s>", "</s>", false,
            "<s>[SYSTEM_PROMPT]You are Mistral Small 3, a Large Language Model (LLM) created by Mistral AI, a French startup headquartered in Paris.\nYour knowledge base was last updated on 2023-10-01. The current date is 2024-07-26.\n\nWhen you're not sure about some information or when the user's request requires up-to-date or specific data, you must use the available tools to fetch the information. Do not hesitate to use tools whenever they can provide a more accurate or complete response. If no relevant tools are available, then clearly state that you don't have the information and avoid making up anything.\n\nIf the user's question is not clear, ambiguous, or does not provide enough context for you to accurately answer the question, you do not try to answer it right away and you rather ask the user to clarify their request (e.g. \"What are some good restaurants around me?\" => \"Where are you?\" or \"When is the next flight to Tokyo\" => \"Where do you travel from?\").\nYou are always very attentive to dates, and when asked about information at specific dates, you discard information that is at another date.\nYou follow these instructions in all languages, and always respond to the user in the language they use or request.\nNext sections describe the capabilities that you have.\n\n# WEB BROWSING INSTRUCTIONS\n\nYou cannot perform any web search or access internet to open URLs, links etc. If it seems like the user is expecting you to do so, you clarify the situation and ask the user to copy paste the text directly in the chat.\n\n# MULTI-MODAL INSTRUCTIONS\n\nYou have the ability to read images, but you cannot generate images. You also cannot transcribe audio files or videos.\nYou cannot read nor transcribe audio files or videos.\n\n# TOOL CALLING INSTRUCTIONS\n\nYou may have access to tools that you can use to fetch information or perform actions. You must use these tools in the following situations:\n\n1. When the request requires up-to-date information.\n2. When the request requires specific data that you do not have in your knowledge base.\n3. When the request involves actions that you cannot perform without tools.\n\nAlways prioritize using tools to provide the most accurate and helpful response. If tools are not available, inform the user that you cannot perform the requested action at the moment.[/SYSTEM_PROMPT][INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]")]
        [InlineData("mistral-small-3.2", false, false, "<s>", "</s>", false,
            "<s>[SYSTEM_PROMPT]You are Mistral Small 3, a Large Language Model (LLM) created by Mistral AI, a French startup headquartered in Paris.\nYour knowledge base was last updated on 2023-10-01. The current date is 2024-07-26.\n\nWhen you're not sure about some information or when the user's request requires up-to-date or specific data, you must use the available tools to fetch the information. Do not hesitate to use tools whenever they can provide a more accurate or complete response. If no relevant tools are available, then clearly state that you don't have the information and avoid making up anything.\n\nIf the user's question is not clear, ambiguous, or does not provide enough context for you to accurately answer the question, you do not try to answer it right away and you rather ask the user to clarify their request (e.g. \"What are some good restaurants around me?\" => \"Where are you?\" or \"When is the next flight to Tokyo\" => \"Where do you travel from?\").\nYou are always very attentive to dates, and when asked about information at specific dates, you discard information that is at another date.\nYou follow these instructions in all languages, and always respond to the user in the language they use or request.\nNext sections describe the capabilities that you have.\n\n# WEB BROWSING INSTRUCTIONS\n\nYou cannot perform any web search or access internet to open URLs, links etc. If it seems like the user is expecting you to do so, you clarify the situation and ask the user to copy paste the text directly in the chat.\n\n# MULTI-MODAL INSTRUCTIONS\n\nYou have the ability to read images, but you cannot generate images. You also cannot transcribe audio files or videos.\nYou cannot read nor transcribe audio files or videos.\n\n# TOOL CALLING INSTRUCTIONS\n\nYou may have access to tools that you can use to fetch information or perform actions. You must use these tools in the following situations:\n\n1. When the request requires up-to-date information.\n2. When the request requires specific data that you do not have in your knowledge base.\n3. When the request involves actions that you cannot perform without tools.\n\nAlways prioritize using tools to provide the most accurate and helpful response. If tools are not available, inform the user that you cannot perform the requested action at the moment.[/SYSTEM_PROMPT][INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]")]
        [InlineData("phi-3", true, true, "<s>", "<|endoftext|>", false,
            "<s><|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n")]
        [InlineData("phi-3", true, false, "<s>", "<|endoftext|>", false,
            "<s><|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n")]
        [InlineData("phi-3", false, true, "<s>", "<|endoftext|>", false,
            "<s><|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n")]
        [InlineData("phi-3", false, false, "<s>", "<|endoftext|>", false,
            "<s><|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n")]
        [InlineData("phi-3.5", true, true, "<s>", "<|endoftext|>", false,
            "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n")]
        [InlineData("phi-3.5", true, false, "<s>", "<|endoftext|>", false,
            "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|endoftext|>")]
        [InlineData("phi-3.5", false, true, "<s>", "<|endoftext|>", false,
            "<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n")]
        [InlineData("phi-3.5", false, false, "<s>", "<|endoftext|>", false,
            "<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|endoftext|>")]
        [InlineData("gemma-2", true, true, "<bos>", "<eos>", true,
            "System role not supported")]
        [InlineData("gemma-2", true, false, "<bos>", "<eos>", true,
            "System role not supported")]
        [InlineData("gemma-2", false, true, "<bos>", "<eos>", false,
            "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\n")]
        [InlineData("gemma-2", false, false, "<bos>", "<eos>", false,
            "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n")]
        [InlineData("gemma-3", true, true, "<bos>", "<eos>", false,
            "<bos><start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\n")]
        [InlineData("gemma-3", true, false, "<bos>", "<eos>", false,
            "<bos><start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n")]
        [InlineData("gemma-3", false, true, "<bos>", "<eos>", false,
            "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\n")]
        [InlineData("gemma-3", false, false, "<bos>", "<eos>", false,
            "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n")]
        [InlineData("deepseek-r1", true, true, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", false,
            "<｜begin▁of▁sentence｜>You are a helpful assistant<｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are you<｜Assistant｜><think>\n")]
        [InlineData("deepseek-r1", true, false, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", false,
            "<｜begin▁of▁sentence｜>You are a helpful assistant<｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are you")]
        [InlineData("deepseek-r1", false, true, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", false,
            "<｜begin▁of▁sentence｜><｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are you<｜Assistant｜><think>\n")]
        [InlineData("deepseek-r1", false, false, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", false,
            "<｜begin▁of▁sentence｜><｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are you")]
        [InlineData("deepseek-v3", true, true, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", false,
            "<｜begin▁of▁sentence｜>You are a helpful assistant<｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are you<｜Assistant｜>")]
        [InlineData("deepseek-v3", true, false, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", false,
            "<｜begin▁of▁sentence｜>You are a helpful assistant<｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are you")]
        [InlineData("deepseek-v3", false, true, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", false,
            "<｜begin▁of▁sentence｜><｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are you<｜Assistant｜>")]
        [InlineData("deepseek-v3", false, false, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", false,
            "<｜begin▁of▁sentence｜><｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are you")]
        [InlineData("zephyr", true, true, "<s>", "</s>", false,
            "<|system|>\nYou are a helpful assistant</s>\n<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n<|user|>\nWho are you</s>\n<|assistant|>\n")]
        [InlineData("zephyr", true, false, "<s>", "</s>", false,
            "<|system|>\nYou are a helpful assistant</s>\n<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n<|user|>\nWho are you</s>\n")]
        [InlineData("zephyr", false, true, "<s>", "</s>", false,
            "<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n<|user|>\nWho are you</s>\n<|assistant|>\n")]
        [InlineData("zephyr", false, false, "<s>", "</s>", false,
            "<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n<|user|>\nWho are you</s>\n")]
    public void RendersLikeTransformers(string template, bool withSystem, bool addGenerationPrompt, string? bos, string? eos, bool raises, string expected)
    {
        var t = Load(template);
        var messages = Conversation(withSystem);
        if (raises)
        {
            var ex = Assert.Throws<ChatTemplateException>(() => t.Render(messages, addGenerationPrompt, bos, eos));
            Assert.Equal(expected, ex.Message);
            Assert.True(ex.RaisedByTemplate);
        }
        else
        {
            Assert.Equal(expected, t.Render(messages, addGenerationPrompt, bos, eos));
        }
    }
}
