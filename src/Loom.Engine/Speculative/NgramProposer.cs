namespace Loom.Engine.Speculative;

/// <summary>
/// Prompt lookup (Saxena's prompt-lookup decoding, vLLM's <c>ngram</c>): the last n tokens of the sequence are
/// searched for earlier in it, longest n first and the latest occurrence first, and the tokens that followed that
/// occurrence are proposed. Text that quotes, repeats or edits its prompt is guessed well; anything else proposes
/// nothing and costs nothing.
/// </summary>
public sealed class NgramProposer : ISpeculativeProposer
{
    public NgramProposer(int minN, int maxN)
    {
        if (minN < 1 || maxN < minN) throw new ArgumentOutOfRangeException(nameof(minN), $"n-gram sizes must satisfy 1 <= min ({minN}) <= max ({maxN})");
        MinN = minN;
        MaxN = maxN;
    }

    public int MinN { get; }
    public int MaxN { get; }

    public int Propose(ReadOnlySpan<int> tokens, Span<int> draft, out int kind)
    {
        int len = tokens.Length;
        kind = 0;
        if (draft.IsEmpty) return 0;
        for (int n = Math.Min(MaxN, len - 1); n >= MinN; n--)
        {
            var suffix = tokens[(len - n)..];
            // The latest earlier occurrence; it may overlap the suffix, so a repeating run proposes more of itself.
            for (int start = len - n - 1; start >= 0; start--)
            {
                if (!tokens.Slice(start, n).SequenceEqual(suffix)) continue;
                int from = start + n, count = Math.Min(draft.Length, len - from);
                tokens.Slice(from, count).CopyTo(draft);
                // A longer match is better evidence: a 1-gram's continuation is often wrong where a 4-gram's is right.
                kind = Math.Min(n, SpeculationState.Kinds - 1);
                return count;
            }
        }
        return 0;
    }
}
