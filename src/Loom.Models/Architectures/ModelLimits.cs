namespace Loom.Models.Architectures;

/// <summary>
/// The largest hyperparameters Loom accepts from any model file (GGUF, config.json, llama2.c), in one place.
/// </summary>
/// <remarks>
/// Every published decoder up to about a trillion parameters sits far inside these: at most ~128 layers, 128 heads,
/// head dims of 256, widths of 64Ki, vocabularies of 256Ki and contexts of 10Mi. A file claiming more is corrupt or
/// hostile, and refusing it before anything is allocated keeps a bad header from sizing arrays or caches
/// (layers × width × context, vocab × width) past what a long or the machine can hold.
/// </remarks>
public static class ModelLimits
{
    public const int MaxLayers = 1024;
    public const int MaxHeads = 1 << 14;
    public const int MaxHeadDim = 1 << 14;
    /// <summary>Embedding and feed-forward widths, and heads × head dim.</summary>
    public const int MaxWidth = 1 << 20;
    public const int MaxVocab = 1 << 24;
    public const int MaxContext = 1 << 24;
    /// <summary>Routed experts per layer (DeepSeek-V3 has 256).</summary>
    public const int MaxExperts = 1 << 12;

    /// <summary>A one-line description for error messages, e.g. "1..1024".</summary>
    public static string Range(long max) => $"1..{max}";
}
