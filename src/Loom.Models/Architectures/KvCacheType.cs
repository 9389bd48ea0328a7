namespace Loom.Models.Architectures;

/// <summary>Element type of the KV cache.</summary>
public enum KvCacheType
{
    /// <summary>f16 rows, as llama.cpp's default; attention matches the reference exactly.</summary>
    F16,
    /// <summary>int8 rows with one f32 scale per head vector per token: about half the memory of f16.</summary>
    Int8,
}
