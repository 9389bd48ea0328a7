using Loom.Models.Architectures;
using Loom.Models.Tokenizers;

namespace Loom.Models;

/// <summary>A model ready to run: its configuration, the transformer over its weights, and its tokenizer.</summary>
public sealed class LoadedModel : IDisposable
{
    public required string Path { get; init; }
    /// <summary>gguf, safetensors or llama2c.</summary>
    public required string Format { get; init; }
    public required Transformer Transformer { get; init; }
    public required Tokenizer Tokenizer { get; init; }
    /// <summary>Display name: general.name, the directory or the file name.</summary>
    public required string Name { get; init; }
    /// <summary>The file's own metadata, for inspection (GGUF key/values or config.json entries).</summary>
    public IReadOnlyDictionary<string, object> Metadata { get; init; } = new Dictionary<string, object>();
    public ModelConfig Config => Transformer.Config;
    public string? ChatTemplate => Tokenizer.ChatTemplate;

    public void Dispose() => Transformer.Dispose();
}
