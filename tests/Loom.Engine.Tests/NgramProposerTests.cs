using Loom.Engine.Speculative;

namespace Loom.Engine.Tests;

/// <summary>Prompt lookup: the longest matching suffix first, its latest earlier occurrence, and what followed it.</summary>
public class NgramProposerTests
{
    private static int[] Propose(NgramProposer p, int[] tokens, int k)
    {
        var draft = new int[k];
        return draft[..p.Propose(tokens, draft, out _)];
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

    [Fact]
    public void The_proposal_names_the_length_of_its_match()
    {
        var p = new NgramProposer(1, 4);
        var draft = new int[3];
        Assert.Equal(3, p.Propose([1, 2, 3, 4, 5, 3, 9, 1, 2, 3], draft, out int kind));
        Assert.Equal(3, kind);
        Assert.Equal(2, p.Propose([7, 8, 3, 9, 3], draft, out kind));
        Assert.Equal(1, kind);
        Assert.Equal(0, p.Propose([1, 2, 3], draft, out kind));
        Assert.Equal(0, kind);
    }

    /// <summary>A proposer that cites the kind it is told to, proposing k copies of 5.</summary>
    private sealed class KindProposer : ISpeculativeProposer
    {
        public int Kind;
        public int Propose(ReadOnlySpan<int> tokens, Span<int> draft, out int kind) { draft.Fill(5); kind = Kind; return draft.Length; }
    }

    [Fact]
    public void Each_kind_of_evidence_keeps_its_own_acceptance_and_draft_length()
    {
        var state = new SpeculationState(5);
        var proposer = new KindProposer();
        int[] tokens = [1, 2, 3];
        // 1-gram proposals are rejected at their first token, 3-gram ones accepted whole.
        for (int i = 0; i < 10; i++)
        {
            proposer.Kind = 1;
            int d = state.Propose(proposer, tokens, 5);
            state.EndVerify(d, 0, adaptive: true);
            proposer.Kind = 3;
            d = state.Propose(proposer, tokens, 5);
            state.EndVerify(d, d, adaptive: true);
        }
        proposer.Kind = 1;
        Assert.Equal(1, state.Propose(proposer, tokens, 5)); // shrunk to one token by its rejections
        double weak = state.Acceptance;
        proposer.Kind = 3;
        Assert.Equal(5, state.Propose(proposer, tokens, 5)); // not shrunk by the 1-grams' rejections
        double strong = state.Acceptance;
        Assert.True(weak < 0.3 && strong > 0.9, $"1-gram acceptance {weak:F2}, 3-gram {strong:F2}");
        // An unseen kind starts from the sequence's rate over every kind.
        proposer.Kind = 4;
        state.Propose(proposer, tokens, 5);
        Assert.InRange(state.Acceptance, weak, strong);
    }
}
