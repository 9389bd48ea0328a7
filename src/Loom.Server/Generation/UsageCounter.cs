using Loom.Engine;
using Loom.Server.Protocol;

namespace Loom.Server.Generation;

/// <summary>Counts a call's tokens as OpenAI does: each prompt once (not once per choice), every choice's output.</summary>
internal sealed class UsageCounter(int prompts, int n)
{
    private readonly int[] _prompt = new int[prompts];
    private readonly int[] _cached = new int[prompts];
    private readonly int[] _completion = new int[prompts * n];
    private readonly int[] _drafted = new int[prompts * n], _accepted = new int[prompts * n];

    public void Add(int prompt, RequestOutput o)
    {
        _prompt[prompt] = o.PromptTokens;
        _cached[prompt] = Math.Max(_cached[prompt], o.CachedPromptTokens);
        _completion[prompt * n + o.Index] = Math.Max(_completion[prompt * n + o.Index], o.CompletionTokens);
        _drafted[prompt * n + o.Index] = Math.Max(_drafted[prompt * n + o.Index], o.SpeculativeDraftTokens);
        _accepted[prompt * n + o.Index] = Math.Max(_accepted[prompt * n + o.Index], o.SpeculativeAcceptedTokens);
    }

    public Usage ToUsage()
    {
        int p = _prompt.Sum(), c = _completion.Sum(), drafted = _drafted.Sum(), accepted = _accepted.Sum();
        var speculative = drafted == 0 ? null : new SpeculativeUsage(drafted, accepted, (double)accepted / drafted);
        return new Usage(p, c, p + c, new PromptTokensDetails(_cached.Sum()), speculative);
    }
}
