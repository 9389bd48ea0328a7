namespace Loom.Models.Architectures;

/// <summary>The activation on the gate of a gated feed-forward: act(gate)·up.</summary>
public enum FfnActivation
{
    /// <summary>SiLU: SwiGLU (Llama, Qwen, the MoE experts).</summary>
    Silu,
    /// <summary>GELU, tanh approximation: GeGLU (Gemma).</summary>
    GeluTanh,
}
