using Loom.Engine.Sampling;
using Loom.Models.Architectures;

namespace Loom.Engine;

/// <summary>What <see cref="LlmEngine.AddRequest(int[], SamplingParams, string?, int)"/> refuses before a request is queued.</summary>
internal static class RequestChecks
{
    /// <summary>
    /// Throws <see cref="ArgumentException"/> for bad parameters, an empty prompt, a token outside the vocabulary, a
    /// prompt the context or the whole KV cache (<paramref name="kvTokens"/>) cannot hold, or more choices than run at once.
    /// </summary>
    public static void Check(int[] prompt, SamplingParams p, ModelConfig config, long kvTokens, int maxNumSeqs)
    {
        p.Validate();
        if (prompt.Length == 0) throw new ArgumentException("the prompt is empty", nameof(prompt));
        int vocab = config.VocabSize;
        foreach (int id in prompt)
            if ((uint)id >= (uint)vocab) throw new ArgumentException($"token id {id} is outside the vocabulary (0..{vocab - 1})", nameof(prompt));
        if (prompt.Length >= config.ContextLength)
            throw new ArgumentException($"the prompt has {prompt.Length} tokens; the context holds {config.ContextLength}", nameof(prompt));
        if (prompt.Length >= kvTokens)
            throw new ArgumentException($"the prompt has {prompt.Length} tokens; the KV cache holds {kvTokens}", nameof(prompt));
        foreach (int id in p.StopTokenIds)
            if ((uint)id >= (uint)vocab) throw new ArgumentOutOfRangeException("stop_token_ids", id, $"stop token id {id} is outside the vocabulary (0..{vocab - 1})");
        if (p.N > maxNumSeqs)
            throw new ArgumentOutOfRangeException("n", p.N, $"n = {p.N} is more than the engine runs at once ({maxNumSeqs})");
    }
}
