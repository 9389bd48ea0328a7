using Loom.Server.Chat;
using Loom.Engine;
using Loom.Models.Tokenizers;

namespace Loom.Server;

/// <summary>What every endpoint shares: the engine, the served name and the model's parsed chat template.</summary>
internal sealed class ServingContext
{
    public ServingContext(LlmEngine engine, string servedModelName, string? chatTemplate = null)
    {
        Engine = engine;
        ServedModelName = servedModelName;
        Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Chat = new ChatPrompt(engine.Model.Tokenizer, chatTemplate);
    }

    public LlmEngine Engine { get; }
    public Tokenizer Tokenizer => Engine.Model.Tokenizer;
    public int ContextLength => Engine.Model.Config.ContextLength;
    public string ServedModelName { get; }
    /// <summary>When the server started, as Unix seconds (the model card's <c>created</c>).</summary>
    public long Created { get; }
    public ChatPrompt Chat { get; }
}
