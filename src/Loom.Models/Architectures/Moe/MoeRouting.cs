using Loom.Core.Kernels;

namespace Loom.Models.Architectures.Moe;

/// <summary>
/// One layer's routing rule: the gating function, the selection bias (<c>exp_probs_b</c>, DeepSeek-V3: it moves
/// which experts are chosen, never their weights), group-limited routing, and what happens to the chosen weights.
/// </summary>
internal sealed record MoeRoute(MoeGating Gating, float[]? Bias, int Groups, int GroupsUsed, bool Normalize, float Scale)
{
    public static MoeRoute For(ModelConfig c, float[]? bias) =>
        new(c.ExpertGating, bias, c.ExpertGroupCount, c.ExpertGroupUsedCount, c.ExpertWeightsNorm, c.ExpertWeightsScale);

    public bool Grouped => Groups > 1 && GroupsUsed < Groups;
}

/// <summary>
/// Picks one token's experts from its router logits as llama.cpp's <c>llm_build_moe_ffn</c> does: scores by softmax
/// over all experts or by sigmoid, the top k by score plus the selection bias (ties to the lower expert index, so the
/// choice never depends on sort order), their unbiased scores as weights, renormalized to sum to one when the
/// architecture says so, then scaled. Group-limited routing, which llama.cpp c392e50 does not have, follows
/// DeepSeek-V3's reference: a group's score is the sum of its two best biased scores, only the best groups' experts
/// may be chosen. It reads only the token's own logits, so a token's experts never depend on the rest of the batch.
/// </summary>
internal static class MoeRouting
{
    /// <summary>The softmax rule with no bias or groups (Mixtral, Qwen-MoE, OLMoE).</summary>
    public static void Route(Span<float> logits, Span<int> experts, Span<float> weights, bool normalize, float scale) =>
        Route(logits, [], experts, weights, new MoeRoute(MoeGating.Softmax, null, 0, 0, normalize, scale));

    /// <summary>
    /// <paramref name="logits"/> (one per expert) becomes the scores in place; the chosen experts go to
    /// <paramref name="experts"/> in descending order of selection score and their weights to <paramref name="weights"/>.
    /// <paramref name="selection"/> (one per expert) is scratch, needed only with a bias or groups.
    /// </summary>
    public static void Route(Span<float> logits, Span<float> selection, Span<int> experts, Span<float> weights, MoeRoute rule)
    {
        if (rule.Gating == MoeGating.Sigmoid)
            for (int e = 0; e < logits.Length; e++) logits[e] = 1f / (1f + MathF.Exp(-logits[e]));
        else Softmax.Apply(logits);

        ReadOnlySpan<float> select = logits;
        if (rule.Bias is not null || rule.Grouped)
        {
            var sel = selection[..logits.Length];
            logits.CopyTo(sel);
            if (rule.Bias is { } bias)
                for (int e = 0; e < sel.Length; e++) sel[e] += bias[e];
            if (rule.Grouped) MaskGroups(sel, rule.Groups, rule.GroupsUsed);
            select = sel;
        }

        int k = experts.Length;
        for (int j = 0; j < k; j++)
        {
            int best = -1;
            for (int e = 0; e < select.Length; e++)
            {
                if (best >= 0 && !(select[e] > select[best])) continue;
                if (float.IsNegativeInfinity(select[e]) || experts[..j].Contains(e)) continue;
                best = e;
            }
            experts[j] = best;
            weights[j] = logits[best];
        }
        if (rule.Normalize)
        {
            // ggml_sum_rows, then ggml_div.
            float sum = 0;
            for (int j = 0; j < k; j++) sum += weights[j];
            for (int j = 0; j < k; j++) weights[j] /= sum;
        }
        if (rule.Scale != 1f)
            for (int j = 0; j < k; j++) weights[j] *= rule.Scale;
    }

    /// <summary>Sets the scores of every expert outside the <paramref name="used"/> best groups to −∞.</summary>
    private static void MaskGroups(Span<float> sel, int groups, int used)
    {
        int size = sel.Length / groups;
        Span<float> score = stackalloc float[groups];
        for (int g = 0; g < groups; g++) score[g] = GroupScore(sel.Slice(g * size, size));
        Span<bool> keep = stackalloc bool[groups];
        for (int j = 0; j < used; j++)
        {
            int best = -1;
            for (int g = 0; g < groups; g++)
                if (!keep[g] && (best < 0 || score[g] > score[best])) best = g;
            keep[best] = true;
        }
        for (int g = 0; g < groups; g++)
            if (!keep[g]) sel.Slice(g * size, size).Fill(float.NegativeInfinity);
    }

    /// <summary>The sum of a group's two best scores (its one score when it has a single expert).</summary>
    private static float GroupScore(ReadOnlySpan<float> group)
    {
        int first = 0;
        for (int e = 1; e < group.Length; e++) if (group[e] > group[first]) first = e;
        if (group.Length == 1) return group[first];
        int second = first == 0 ? 1 : 0;
        for (int e = 0; e < group.Length; e++) if (e != first && group[e] > group[second]) second = e;
        return group[first] + group[second];
    }
}
