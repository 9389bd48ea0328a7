using Loom.Models.Formats.Gguf;

namespace Loom.Models.Synthetic;

/// <summary>What a synthetic phi3 file adds, as llama.cpp's converter writes a Phi-3 checkpoint (Phi3MiniModel).</summary>
internal static class SyntheticPhi3
{
    public static void AddMetadata(GgufWriter w, SyntheticModelSpec s)
    {
        w.Add("phi3.attention.sliding_window", (uint)s.SlidingWindow);
        if (s.LongRopeOriginalContext is not int orig) return;
        w.Add("phi3.rope.scaling.original_context_length", (uint)orig);
        // The converter's LongRoPE attention factor: sqrt(1 + ln(scale) / ln(original context)), 1 when not extended.
        double scale = (double)s.ContextLength / orig;
        w.Add("phi3.rope.scaling.attn_factor", (float)(scale > 1 ? Math.Sqrt(1 + Math.Log(scale) / Math.Log(orig)) : 1.0));
    }

    /// <summary>
    /// Phi-3's end-of-text and end-of-turn control tokens in the vocabulary's last two slots: llama.cpp looks
    /// &lt;|endoftext|&gt; up by name in any model named like Phi-3 and fails to load one without it.
    /// </summary>
    public static void AddSpecialTokens(string[] tokens, float[] scores, int[] types)
    {
        int n = tokens.Length;
        (tokens[n - 2], tokens[n - 1]) = ("<|endoftext|>", "<|end|>");
        scores[n - 2] = scores[n - 1] = 0f;
        types[n - 2] = types[n - 1] = SyntheticModelVocab.Control;
    }

    /// <summary>
    /// Long and short divisors, one per rotated pair: fixed ramps (long from 1 to 8, short from 1 to 1.5) rather than
    /// random values, so the two sets give visibly different numbers and both stay plausible.
    /// </summary>
    public static IEnumerable<(string Name, float[] Factors)> RopeFactors(SyntheticModelSpec s)
    {
        int n = s.EffectiveHeadDim / 2;
        float Ramp(int i, float top) => n == 1 ? 1f : 1f + (top - 1f) * i / (n - 1);
        yield return ("rope_factors_long.weight", Enumerable.Range(0, n).Select(i => Ramp(i, 8f)).ToArray());
        yield return ("rope_factors_short.weight", Enumerable.Range(0, n).Select(i => Ramp(i, 1.5f)).ToArray());
    }
}
