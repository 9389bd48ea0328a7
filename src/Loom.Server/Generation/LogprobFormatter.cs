using Loom.Engine;
using Loom.Models.Tokenizers;
using Loom.Server.Protocol;

namespace Loom.Server.Generation;

/// <summary>The engine's per-token log-probabilities (from raw logits) in the two OpenAI layouts.</summary>
internal static class LogprobFormatter
{
    /// <summary>Legacy completions: parallel arrays; text offsets count from <paramref name="startOffset"/>.</summary>
    public static CompletionLogprobs Completion(Tokenizer tokenizer, IReadOnlyList<TokenLogprob> logprobs, int startOffset)
    {
        var tokens = new List<string>(logprobs.Count);
        var values = new List<float?>(logprobs.Count);
        var top = new List<Dictionary<string, float>?>(logprobs.Count);
        var offsets = new List<int>(logprobs.Count);
        int offset = startOffset;
        foreach (var lp in logprobs)
        {
            string text = TokenText.Text(tokenizer, lp.TokenId);
            tokens.Add(text);
            values.Add(lp.Logprob);
            offsets.Add(offset);
            offset += text.Length;
            var alternatives = new Dictionary<string, float>();
            // Two tokens can print the same (e.g. both invalid UTF-8): the likelier one keeps the key.
            foreach (var (id, value) in lp.Top) alternatives.TryAdd(TokenText.Text(tokenizer, id), value);
            top.Add(alternatives);
        }
        return new CompletionLogprobs(tokens, values, top, offsets);
    }

    /// <summary>Chat: one entry per token with its alternatives.</summary>
    public static ChatLogprobs Chat(Tokenizer tokenizer, IReadOnlyList<TokenLogprob> logprobs, int topCount) =>
        new(logprobs.Select(lp => new ChatTokenLogprob(
            TokenText.Text(tokenizer, lp.TokenId), lp.Logprob, TokenText.Bytes(tokenizer, lp.TokenId),
            lp.Top.Take(topCount).Select(t => new ChatTopLogprob(TokenText.Text(tokenizer, t.TokenId), t.Logprob, TokenText.Bytes(tokenizer, t.TokenId))).ToArray()))
            .ToArray());
}
