
namespace Loom.Models.ChatTemplates;

/// <summary>
/// A parsed Hugging Face chat template (the Jinja source in <c>tokenizer.chat_template</c>), rendered the way
/// <c>apply_chat_template</c> does: <c>trim_blocks</c> and <c>lstrip_blocks</c> on, <c>tools</c> and
/// <c>documents</c> passed as none unless given, <c>raise_exception</c> and <c>strftime_now</c> available.
/// Parse once, render many times; rendering is thread-safe.
/// </summary>
public sealed class ChatTemplate
{
    private readonly IReadOnlyList<Node> _nodes;

    /// <summary>Parses <paramref name="source"/>.</summary>
    /// <exception cref="ChatTemplateException">The source is not valid template syntax; the exception has the line and column.</exception>
    public ChatTemplate(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Source = source;
        _nodes = TemplateParser.Parse(source);
    }

    /// <summary>The template text as given.</summary>
    public string Source { get; }

    /// <summary>The clock behind <c>strftime_now</c>; tests pin it.</summary>
    internal Func<DateTime> Clock { get; init; } = () => DateTime.Now;

    /// <summary>Renders the conversation.</summary>
    /// <param name="messages">The conversation, as <c>messages</c>.</param>
    /// <param name="addGenerationPrompt">As <c>add_generation_prompt</c>: end with the header of an assistant turn.</param>
    /// <param name="bosToken">As <c>bos_token</c>; null renders as the empty string.</param>
    /// <param name="eosToken">As <c>eos_token</c>; null renders as the empty string.</param>
    /// <param name="extra">More variables (e.g. <c>tools</c>, <c>enable_thinking</c>, <c>date_string</c>); they override the ones above.
    /// Values may be strings, numbers, bools, null, dictionaries, and lists of these.</param>
    /// <exception cref="ChatTemplateException">The template raised an error (its own message, via <c>raise_exception</c>),
    /// hit a type error, or exceeded the render limits.</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, string? bosToken = null, string? eosToken = null,
        IReadOnlyDictionary<string, object?>? extra = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var globals = new Scope(null);
        Globals.AddTo(globals, Clock);
        var context = new Scope(globals);
        context.Set("messages", ClrConverter.FromClr(messages));
        context.Set("add_generation_prompt", addGenerationPrompt);
        context.Set("bos_token", bosToken ?? "");
        context.Set("eos_token", eosToken ?? "");
        context.Set("tools", null);
        context.Set("documents", null);
        if (extra is not null)
            foreach (var (name, value) in extra)
                context.Set(name, ClrConverter.FromClr(value));
        return new Interpreter().Render(_nodes, context);
    }
}
