using Loom.Models.Formats.Gguf;

namespace Loom.Models.Quantize;

/// <summary>
/// What <see cref="TensorTypeRules"/> needs to know about a model besides a tensor's name and shape: the facts
/// llama.cpp's per-tensor type choice consults.
/// </summary>
/// <param name="Architecture"><c>general.architecture</c> (falcon has rules of its own).</param>
/// <param name="NumLayers">Transformer blocks.</param>
/// <param name="NumHeads">Query heads (for the grouped-query ratio).</param>
/// <param name="NumKvHeads">Key/value heads.</param>
/// <param name="NumExperts">Experts per MoE layer; 0 for dense models.</param>
/// <param name="HasOutput">True when the model has its own <c>output.weight</c> (untied embeddings).</param>
/// <param name="NumAttentionV">Tensors whose names contain attn_v.weight, attn_qkv.weight or attn_kv_b.weight.</param>
public sealed record QuantizationModelInfo(string Architecture, int NumLayers, int NumHeads, int NumKvHeads, int NumExperts, bool HasOutput, int NumAttentionV)
{
    /// <summary>Query heads per KV head (llama.cpp's n_gqa).</summary>
    public int Gqa => NumKvHeads > 0 ? NumHeads / NumKvHeads : 0;

    /// <summary>
    /// llama.cpp's LLM_TYPE_70B as its loader assigns it for the Llama-family architectures: 80 layers (a llama with
    /// as many KV heads as heads is the 65B instead).
    /// </summary>
    public bool Is70B => NumLayers == 80 && (Architecture != "llama" || NumHeads != NumKvHeads);

    /// <summary>Reads the facts from a GGUF file's metadata and tensor list.</summary>
    public static QuantizationModelInfo FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string arch = file.GetString("general.architecture") ?? throw new ModelFormatException(file.Path, "missing general.architecture");
        int layers = file.GetInt32($"{arch}.block_count") ?? throw new ModelFormatException(file.Path, $"missing {arch}.block_count");
        int heads = HeadCount(file, $"{arch}.attention.head_count");
        int kvHeads = file.Has($"{arch}.attention.head_count_kv") ? HeadCount(file, $"{arch}.attention.head_count_kv") : heads;
        int experts = file.GetInt32($"{arch}.expert_count") ?? 0;
        bool hasOutput = file.HasTensor("output.weight");
        int attnV = file.Tensors.Count(t => t.Name.Contains("attn_v.weight", StringComparison.Ordinal)
            || t.Name.Contains("attn_qkv.weight", StringComparison.Ordinal) || t.Name.Contains("attn_kv_b.weight", StringComparison.Ordinal));
        return new QuantizationModelInfo(arch, layers, heads, kvHeads, experts, hasOutput, attnV);
    }

    // Some architectures store head counts per layer; llama.cpp's n_head()/n_head_kv() then mean layer 0's.
    private static int HeadCount(GgufFile file, string key) =>
        file.Metadata.TryGetValue(key, out var v) && v is GgufArray
            ? file.GetInt32Array(key) is { Length: > 0 } a ? a[0] : 0
            : file.GetInt32(key) ?? 0;
}
