using System.Text;
using Loom.Engine;

namespace Loom.Server.Generation;

/// <summary>Collects one choice's text, tokens and log-probabilities from its stream of outputs.</summary>
internal sealed class ChoiceAccumulator
{
    public StringBuilder Text { get; } = new();
    public List<int> TokenIds { get; } = [];
    public List<TokenLogprob> Logprobs { get; } = [];
    public FinishReason? FinishReason { get; private set; }
    public string? StopReason { get; private set; }
    public int CompletionTokens { get; private set; }

    public void Add(RequestOutput o)
    {
        Text.Append(o.Delta);
        TokenIds.AddRange(o.TokenIds.Span);
        if (o.Logprobs is not null) Logprobs.AddRange(o.Logprobs);
        CompletionTokens = Math.Max(CompletionTokens, o.CompletionTokens);
        if (o.FinishReason is not null) { FinishReason = o.FinishReason; StopReason = o.StopReason; }
    }
}
