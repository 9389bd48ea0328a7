using Loom.Core.Tensors;

namespace Loom.Models.Architectures.Mla;

/// <summary>
/// The tensors of a latent-attention layer that ordinary attention has no place for: the query's low-rank
/// projection and its norm (absent in DeepSeek-V2-Lite, whose Q is one matrix) and the latent's norm.
/// </summary>
public sealed class MlaWeights
{
    /// <summary><c>attn_q_a</c> [dim, q_lora_rank], or null.</summary>
    public WeightTensor? QA { get; init; }
    /// <summary><c>attn_q_a_norm</c> [q_lora_rank], or null.</summary>
    public WeightTensor? QANorm { get; init; }
    /// <summary><c>attn_kv_a_norm</c> [kv_lora_rank]: RMSNorm of the latent before it is cached.</summary>
    public required WeightTensor KvANorm { get; init; }
}
