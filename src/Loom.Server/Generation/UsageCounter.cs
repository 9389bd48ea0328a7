using Loom.Engine;
using Loom.Server.Protocol;

namespace Loom.Server.Generation;

/// <summary>Counts a call's tokens as OpenAI does: each prompt once (not once per choice), every choice's output.</summary>
internal sealed class UsageCounter(int prompts, int n)
{
    private readonly int[] _prompt = new int[prompts];
    private readonly int[] _cached = new int[prompts];
    private readonly int[] _completion = new int[prompts * n];

    public void Add(int prompt, RequestOutput o)
    {
        _prompt[prompt] = o.PromptTokens;
        _cached[prompt] = Math.Max(_cached[prompt], o.CachedPromptTokens);
        _completion[prompt * n + o.Index] = Math.Max(_completion[prompt * n + o.Index], o.CompletionTokens);
    }

    public Usage ToUsage()
    {
        int p = _prompt.Sum(), c = _completion.Sum();
        return new Usage(p, c, p + c, new PromptTokensDetails(_cached.Sum()));
    }
}
