using Loom.Models.ChatTemplates;
using Loom.Models.Tokenizers;

namespace Loom.Server.Chat;

/// <summary>
/// Turns a conversation into prompt tokens with the model's own chat template (GGUF <c>tokenizer.chat_template</c>
/// or <c>chat_template</c> in tokenizer_config.json), as <c>apply_chat_template</c> would, then tokenizes the text
/// without adding BOS again (templates write <c>bos_token</c> themselves) but with special tokens parsed.
/// </summary>
public sealed class ChatPrompt
{
    private readonly Tokenizer _tokenizer;
    private readonly string? _source;
    private readonly Lazy<ChatTemplate?> _template;

    /// <param name="tokenizer">The model's tokenizer, which also carries its chat template.</param>
    /// <param name="templateOverride">Template source to use instead of the model's (like vLLM's <c>--chat-template</c>).</param>
    public ChatPrompt(Tokenizer tokenizer, string? templateOverride = null)
    {
        _tokenizer = tokenizer;
        _source = templateOverride ?? tokenizer.ChatTemplate;
        _template = new(() => _source is { } source ? new ChatTemplate(source) : null);
    }

    /// <summary>True when there is a chat template (the model's or the override).</summary>
    public bool HasTemplate => _source is not null;

    /// <summary>How the template has the model write tool calls; null when it has none.</summary>
    public Tools.ToolCallFormat? ToolFormat => Tools.ToolCallFormat.Detect(_source);

    /// <summary>
    /// Renders <paramref name="messages"/>. Throws <see cref="ArgumentException"/> (param "messages") when the model has
    /// no template or the template rejects the conversation.
    /// </summary>
    /// <param name="messages">The conversation.</param>
    /// <param name="addGenerationPrompt">End with the assistant header.</param>
    /// <param name="tools">The <c>tools</c> variable (each <c>{"type": "function", "function": …}</c>), or null.</param>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, IReadOnlyList<object?>? tools = null)
    {
        ChatTemplate template;
        try
        {
            template = _template.Value ?? throw new ArgumentException(
                "This model has no chat template (no tokenizer.chat_template in the model), so chat requests cannot be rendered; use /v1/completions, or give the server a template (loom serve --chat-template FILE).", "messages");
        }
        catch (ChatTemplateException e)
        {
            throw new ArgumentException($"The model's chat template does not parse: {e.Message}", "messages");
        }
        try
        {
            var extra = tools is null ? null : new Dictionary<string, object?> { ["tools"] = tools };
            return template.Render(messages, addGenerationPrompt, Piece(_tokenizer.BosId), Piece(_tokenizer.EosId), extra);
        }
        catch (ChatTemplateException e)
        {
            throw new ArgumentException($"The chat template rejected the messages: {e.Message}", "messages");
        }
    }

    /// <summary>Renders and tokenizes.</summary>
    public int[] Encode(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, IReadOnlyList<object?>? tools = null) =>
        Tokenize(Render(messages, addGenerationPrompt, tools));

    /// <summary>Tokenizes a rendered prompt (special tokens parsed, no BOS added).</summary>
    public int[] Tokenize(string rendered) => _tokenizer.Encode(rendered, addSpecial: false, parseSpecial: true);

    /// <summary>The template teaches reasoning in think tags (Qwen 3, DeepSeek-R1), which answers split off.</summary>
    public bool Reasons => Generation.ReasoningSplitter.TemplateReasons(_source);

    private string? Piece(int id) => id >= 0 && id < _tokenizer.VocabSize ? _tokenizer.TokenPiece(id) : null;
}
