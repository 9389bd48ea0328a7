namespace Loom.Engine.Sampling;

/// <summary>
/// Log-softmax over raw logits, before any sampling processor, as vLLM reports by default and as llama.cpp's
/// reference computes. Results go into caller-provided buffers; nothing is allocated.
/// </summary>
/// <remarks>
/// Each call makes one or two passes over the vocabulary. When both the chosen token and the top alternatives are
/// needed, compute <see cref="LogSumExp"/> once and pass it to the overloads that take it.
/// </remarks>
public static class Logprobs
{
    /// <summary>
    /// log(sum(exp(logits))), computed stably (shifted by the maximum) and accumulated in double, with the vector
    /// kernels; <see cref="Core.Kernels.Softmax.LogSumExp"/> is its scalar reference.
    /// </summary>
    public static double LogSumExp(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty) throw new ArgumentException("No logits.", nameof(logits));
        var max = Kernels.Max(logits);
        if (float.IsInfinity(max)) return max;
        return max + Math.Log(Kernels.ExpShiftedSumNoStore(logits, max));
    }

    /// <summary>log p(token) under softmax(logits).</summary>
    public static float LogSoftmaxAt(ReadOnlySpan<float> logits, int token) =>
        LogSoftmaxAt(logits, token, LogSumExp(logits));

    /// <summary>log p(token) given a precomputed <see cref="LogSumExp"/> of the same logits.</summary>
    public static float LogSoftmaxAt(ReadOnlySpan<float> logits, int token, double logSumExp)
    {
        if ((uint)token >= (uint)logits.Length)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"Token id must be in [0, {logits.Length}).");
        return (float)(logits[token] - logSumExp);
    }

    /// <summary>
    /// Writes the most likely tokens and their logprobs, best first (lowest id first among equal logits), and returns
    /// how many were written: the shortest of <paramref name="ids"/>, <paramref name="logprobs"/> and the vocabulary.
    /// </summary>
    public static int TopN(ReadOnlySpan<float> logits, Span<int> ids, Span<float> logprobs) =>
        TopN(logits, LogSumExp(logits), ids, logprobs);

    /// <summary><see cref="TopN(ReadOnlySpan{float}, Span{int}, Span{float})"/> with a precomputed <see cref="LogSumExp"/>.</summary>
    public static int TopN(ReadOnlySpan<float> logits, double logSumExp, Span<int> ids, Span<float> logprobs)
    {
        var n = Math.Min(Math.Min(ids.Length, logprobs.Length), logits.Length);
        if (n == 0) return 0;
        // Insertion into a best-first list of n; logprobs holds raw logits until the final pass. Most tokens fail
        // the first comparison against the current n-th best, so this is one cheap pass for the small n used here.
        var filled = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            var v = logits[i];
            if (filled == n && !(v > logprobs[n - 1])) continue; // equal loses: later id
            var pos = filled < n ? filled++ : n - 1;
            while (pos > 0 && v > logprobs[pos - 1])
            {
                logprobs[pos] = logprobs[pos - 1];
                ids[pos] = ids[pos - 1];
                pos--;
            }
            logprobs[pos] = v;
            ids[pos] = i;
        }
        for (var j = 0; j < n; j++) logprobs[j] = (float)(logprobs[j] - logSumExp);
        return n;
    }
}
