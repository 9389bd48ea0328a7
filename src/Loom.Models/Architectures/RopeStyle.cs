namespace Loom.Models.Architectures;

/// <summary>Which pairs of a head's dimensions RoPE rotates together.</summary>
public enum RopeStyle
{
    /// <summary>Adjacent pairs (2i, 2i+1): llama2.c, and llama.cpp's GGUF llama files whose Q/K rows the converter permuted.</summary>
    Interleaved,
    /// <summary>Halves (i, i + d/2), "rotate_half": HF safetensors checkpoints, and GGUF qwen2/qwen3.</summary>
    NeoX,
}
