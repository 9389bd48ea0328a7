using Loom.Core.Kernels;
using Loom.Core.Threading;

namespace Loom.Models.Architectures;

/// <summary>
/// Gemma 2 and 3's steps in the forward pass, each a no-op for other families: embeddings scaled by sqrt(dim), Q
/// scaled after RoPE (query_pre_attn_scalar; attention then scales by 1), RMS post-norms on the attention and
/// feed-forward outputs, the sliding layers' own RoPE base (Gemma 3) and the final logit soft-cap (Gemma 2).
/// The attention soft-cap and the sliding window live in the attention kernels (<c>AttentionCall</c>), GeGLU in
/// <see cref="LayerSteps.GeGlu"/>. Each step rounds as llama.cpp's graph does (ggml_scale, ggml_tanh in float).
/// </summary>
public sealed partial class Transformer
{
    private readonly float[]?[] _attnPostNorm, _ffnPostNorm;

    private static (float[]?[] Attn, float[]?[] Ffn) PostNormWeights(ModelWeights weights) =>
        (weights.Layers.Select(w => w.AttnPostNorm?.ToFloats()).ToArray(), weights.Layers.Select(w => w.FfnPostNorm?.ToFloats()).ToArray());

    /// <summary>RoPE angles at the sliding layers' base, when it differs from the global one (Gemma 3: 10000, unscaled).</summary>
    private void SlidingRopeAngles(ForwardBatch batch)
    {
        var c = Config;
        if (c.SlidingRopeTheta == 0) return;
        int half = c.RopeDim / 2;
        for (int t = 0; t < batch.TokenCount; t++)
            Rope.Angles(batch.Positions[t], c.RopeDim, c.SlidingRopeTheta, 1f, [], _s.RopeCosSliding.AsSpan(t * half, half), _s.RopeSinSliding.AsSpan(t * half, half));
    }

    private void ScaleEmbeddings(Span<float> x)
    {
        float scale = Config.EmbeddingScale;
        if (scale == 0) return;
        for (int i = 0; i < x.Length; i++) x[i] *= scale;
    }

    private void ScaleQuery(Span<float> q)
    {
        float scale = Config.QueryScale;
        if (scale == 0) return;
        for (int i = 0; i < q.Length; i++) q[i] *= scale;
    }

    /// <summary>Rows of <paramref name="x"/> RMS-normed in place by layer <paramref name="l"/>'s post-norm, when the model has one.</summary>
    private void PostNorm(float[]?[] weights, int l, float[] x, int tokens, ComputePool pool)
    {
        if (weights[l] is { } w) LayerSteps.Norm(pool, x, w, tokens, Config.Dim, Config.RmsNormEps);
    }

    /// <summary>logits = cap·tanh(logits/cap), as llama.cpp's scale, tanh, scale.</summary>
    private void SoftcapLogits(Span<float> logits)
    {
        float cap = Config.FinalSoftcap;
        if (cap == 0) return;
        float inv = 1.0f / cap;
        for (int i = 0; i < logits.Length; i++) logits[i] = MathF.Tanh(logits[i] * inv) * cap;
    }
}
