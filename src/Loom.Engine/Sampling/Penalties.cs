namespace Loom.Engine.Sampling;

/// <summary>
/// Repetition (vLLM/HF) and presence/frequency (OpenAI) penalties, recomputed from the token spans on every call.
/// </summary>
/// <remarks>
/// Recomputing costs O(prompt + output) per token, negligible beside a forward pass, and keeps the sampler free of
/// hidden state that could drift from the caller's token lists (e.g. after a rollback). Per-token bookkeeping uses
/// generation stamps, so nothing is cleared between calls and nothing is allocated.
/// </remarks>
internal sealed class Penalties
{
    private readonly float _repetition, _presence, _frequency;
    private readonly int[] _stamp, _count;
    private int _generation;

    public Penalties(float repetition, float presence, float frequency, int vocabSize)
    {
        _repetition = repetition;
        _presence = presence;
        _frequency = frequency;
        _stamp = new int[vocabSize];
        _count = new int[vocabSize];
    }

    /// <summary>True when any penalty changes logits.</summary>
    public static bool AreActive(SamplingParams p) =>
        p.RepetitionPenalty != 1f || p.PresencePenalty != 0f || p.FrequencyPenalty != 0f;

    // pending: tokens counted as output after the output (a draft's earlier tokens).
    public void Apply(Span<float> logits, ReadOnlySpan<int> prompt, ReadOnlySpan<int> output, ReadOnlySpan<int> pending = default)
    {
        if (++_generation == int.MaxValue)
        {
            Array.Clear(_stamp);
            _generation = 1;
        }
        var gen = _generation;
        var vocab = logits.Length;

        Count(output, gen, vocab);
        Count(pending, gen, vocab);
        Penalise(logits, output);
        Penalise(logits, pending);
        foreach (var t in prompt)
        {
            if ((uint)t >= (uint)vocab) throw BadToken(t, vocab, "promptTokens");
            if (_stamp[t] == gen) continue;
            _stamp[t] = gen;
            logits[t] = Repeat(logits[t]);
        }
    }

    private void Count(ReadOnlySpan<int> output, int gen, int vocab)
    {
        foreach (var t in output)
        {
            if ((uint)t >= (uint)vocab) throw BadToken(t, vocab, "outputTokens");
            if (_stamp[t] != gen) { _stamp[t] = gen; _count[t] = 0; }
            _count[t]++;
        }
    }

    // Each distinct output token once: the count is zeroed after use so later duplicates skip.
    private void Penalise(Span<float> logits, ReadOnlySpan<int> output)
    {
        foreach (var t in output)
        {
            var c = _count[t];
            if (c == 0) continue;
            _count[t] = 0;
            logits[t] = Repeat(logits[t]) - _frequency * c - _presence;
        }
    }

    private float Repeat(float logit) => Kernels.Saturate(logit > 0f ? logit / _repetition : logit * _repetition, logit);

    private static ArgumentOutOfRangeException BadToken(int t, int vocab, string name) =>
        new(name, t, $"Token id {t} is outside the vocabulary [0, {vocab}).");
}
