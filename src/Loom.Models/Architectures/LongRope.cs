namespace Loom.Models.Architectures;

/// <summary>
/// LongRoPE (Phi-3 128k, Phi-3.5): two sets of per-frequency divisors, one for contexts up to the original training
/// context and one for longer ones. llama.cpp picks the set once per context, by the context it is created with (per
/// sequence: <c>n_ctx / n_seq_max</c>): long when that exceeds <see cref="OriginalContext"/>
/// (<c>rope.scaling.original_context_length</c>), short otherwise, and every position of every sequence then uses it.
/// Loom's per-sequence context is <see cref="ModelConfig.ContextLength"/> (after any
/// <see cref="ModelLoadOptions.ContextLength"/>), so the same rule applied to it gives the same factors.
/// </summary>
public sealed record LongRope(float[] Long, float[] Short, int OriginalContext)
{
    /// <summary>The divisors a model serving sequences of up to <paramref name="context"/> tokens uses.</summary>
    public float[] Factors(int context) => context > OriginalContext ? Long : Short;
}
