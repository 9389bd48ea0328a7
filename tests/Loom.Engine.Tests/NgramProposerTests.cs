using Loom.Engine.Speculative;

namespace Loom.Engine.Tests;

/// <summary>Prompt lookup: the longest matching suffix first, its latest earlier occurrence, and what followed it.</summary>
public class NgramProposerTests
{
    private static int[] Propose(NgramProposer p, int[] tokens, int k)
    {
        var draft = new int[k];
        return draft[..p.Propose(tokens, draft)];
    }

    [Fact]
    public void Proposes_what_followed_the_latest_earlier_occurrence()
    {
        var p = new NgramProposer(1, 3);
        // "7 8" occurs twice before the end; the later one (followed by 5 6) wins.
        Assert.Equal([5, 6, 1], Propose(p, [7, 8, 1, 2, 7, 8, 5, 6, 1, 9, 7, 8], 3));
    }

    [Fact]
    public void Prefers_the_longest_suffix_that_matches()
    {
        var p = new NgramProposer(1, 3);
        // The 1-gram "3" last occurred before 9, but the 3-gram "1 2 3" occurred before 4.
        Assert.Equal([4, 5], Propose(p, [1, 2, 3, 4, 5, 3, 9, 1, 2, 3], 2));
    }

    [Fact]
    public void Respects_min_n_and_the_draft_length()
    {
        Assert.Empty(Propose(new NgramProposer(2, 3), [1, 2, 3, 9, 3], 4)); // only a 1-gram matches
        Assert.Equal([2], Propose(new NgramProposer(1, 1), [1, 2, 1], 1));
        Assert.Empty(Propose(new NgramProposer(1, 4), [5], 4));
        Assert.Empty(Propose(new NgramProposer(1, 4), [1, 2, 3], 4));
    }

    [Fact]
    public void A_repeating_run_proposes_more_of_itself()
    {
        // The suffix "4 4" overlaps its own latest occurrence; the proposal is what followed it, up to the end.
        Assert.Equal([4], Propose(new NgramProposer(2, 2), [1, 4, 4, 4], 5));
    }

    [Fact]
    public void Bad_sizes_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NgramProposer(0, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NgramProposer(3, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpeculativeOptions { NumTokens = 0 }.Validate());
        Assert.Throws<ArgumentException>(() => SpeculativeOptions.Parse("medusa"));
    }
}
