namespace Loom.Models.Architectures.Moe;

/// <summary>How router logits become expert scores (GGUF <c>expert_gating_func</c>: 1 softmax, 2 sigmoid).</summary>
public enum MoeGating
{
    /// <summary>Softmax over all experts (Mixtral, Qwen-MoE, OLMoE, DeepSeek-V2).</summary>
    Softmax = 1,
    /// <summary>An independent sigmoid per expert (DeepSeek-V3), usually with a selection bias and renormalized weights.</summary>
    Sigmoid = 2,
}
