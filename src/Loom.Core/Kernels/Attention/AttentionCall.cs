namespace Loom.Core.Kernels.Attention;

/// <summary>
/// One layer's attention as its kernels see it: Q and output rows (token-major, <see cref="NumHeads"/> heads of
/// <see cref="PagedKv.HeadDim"/> per token) and the paged K/V they attend over. Work items name tokens and heads;
/// this turns them into memory.
/// </summary>
/// <param name="scale">What each q·k is multiplied by: 1/√head dim, or 1 where the model scaled Q beforehand (phi3, Gemma).</param>
/// <param name="softcap">Scores become softcap·tanh(score/softcap) before the softmax (Gemma 2); 0 for none.</param>
/// <param name="window">A token at position p sees only positions p - window + 1 .. p (a sliding layer); 0 for all.</param>
internal readonly unsafe struct AttentionCall(PagedKv kv, float* q, float* output, int numHeads, int contextLength,
    float scale, float softcap = 0, int window = 0)
{
    public readonly PagedKv Kv = kv;
    public readonly float* Q = q, Output = output;
    public readonly int NumHeads = numHeads;
    /// <summary>Query heads per KV head.</summary>
    public readonly int Group = numHeads / kv.NumKvHeads;
    public readonly float Scale = scale;
    public readonly float Softcap = softcap;
    public readonly int Window = window;
    /// <summary>The model's context length: the reference pads a lone token's value sum to it.</summary>
    public readonly int ContextLength = contextLength;

    /// <summary>The first position a token at <paramref name="position"/> attends to.</summary>
    public int FirstVisible(int position) => Window > 0 ? Math.Max(0, position - Window + 1) : 0;

    /// <summary>
    /// Soft-caps <paramref name="n"/> scores in place, as llama.cpp does it: scaled by 1/cap, tanh, scaled by cap,
    /// each step rounded to float.
    /// </summary>
    public void Cap(float* scores, int n)
    {
        if (Softcap == 0) return;
        float inv = 1.0f / Softcap;
        for (int i = 0; i < n; i++) scores[i] = MathF.Tanh(scores[i] * inv) * Softcap;
    }

    public float* QueryRow(int token, int head) => Q + ((long)token * NumHeads + head) * Kv.HeadDim;
    public float* OutputRow(int token, int head) => Output + ((long)token * NumHeads + head) * Kv.HeadDim;
}
