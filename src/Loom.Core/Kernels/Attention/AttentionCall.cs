namespace Loom.Core.Kernels.Attention;

/// <summary>
/// One layer's attention as its kernels see it: Q and output rows (token-major, <see cref="NumHeads"/> heads of
/// <see cref="PagedKv.HeadDim"/> per token) and the paged K/V they attend over. Work items name tokens and heads;
/// this turns them into memory.
/// </summary>
internal readonly unsafe struct AttentionCall(PagedKv kv, float* q, float* output, int numHeads, int contextLength, float scale)
{
    public readonly PagedKv Kv = kv;
    public readonly float* Q = q, Output = output;
    public readonly int NumHeads = numHeads;
    /// <summary>Query heads per KV head.</summary>
    public readonly int Group = numHeads / kv.NumKvHeads;
    /// <summary>What each q·k is multiplied by: 1/√head dim, or 1 where the model scaled Q beforehand (phi3).</summary>
    public readonly float Scale = scale;
    /// <summary>The model's context length: the reference pads a lone token's value sum to it.</summary>
    public readonly int ContextLength = contextLength;

    public float* QueryRow(int token, int head) => Q + ((long)token * NumHeads + head) * Kv.HeadDim;
    public float* OutputRow(int token, int head) => Output + ((long)token * NumHeads + head) * Kv.HeadDim;
}
