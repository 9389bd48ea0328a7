using Loom.Core.Kernels;

namespace Loom.Models.Architectures.Moe;

/// <summary>
/// Picks one token's experts from its router logits as llama.cpp's <c>llm_build_moe_ffn</c> does: softmax over all
/// experts, the top k by probability (ties to the lower expert index, so the choice never depends on sort order),
/// their probabilities as weights, renormalized to sum to one when the architecture says so, then scaled. It reads
/// only the token's own logits, so a token's experts never depend on the rest of the batch.
/// </summary>
internal static class MoeRouting
{
    /// <summary>
    /// <paramref name="logits"/> (one per expert) becomes the softmax probabilities in place; the chosen experts go to
    /// <paramref name="experts"/> in descending order of probability and their weights to <paramref name="weights"/>.
    /// </summary>
    public static void Route(Span<float> logits, Span<int> experts, Span<float> weights, bool normalize, float scale)
    {
        Softmax.Apply(logits);
        int k = experts.Length;
        for (int j = 0; j < k; j++)
        {
            int best = -1;
            for (int e = 0; e < logits.Length; e++)
            {
                if (best >= 0 && !(logits[e] > logits[best])) continue;
                if (experts[..j].Contains(e)) continue;
                best = e;
            }
            experts[j] = best;
            weights[j] = logits[best];
        }
        if (normalize)
        {
            // ggml_sum_rows, then ggml_div.
            float sum = 0;
            for (int j = 0; j < k; j++) sum += weights[j];
            for (int j = 0; j < k; j++) weights[j] /= sum;
        }
        if (scale != 1f)
            for (int j = 0; j < k; j++) weights[j] *= scale;
    }
}
