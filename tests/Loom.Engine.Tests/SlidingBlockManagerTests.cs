using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

/// <summary>
/// The block manager with a sliding group beside the full one (block size 4, window 8): the sliding table releases
/// what falls out of the window, its pool hands those blocks to others, and forks, truncation, the prefix cache and
/// freeing keep both pools' counts right.
/// </summary>
public class SlidingBlockManagerTests
{
    private static readonly Request Req = new("r", [1], SamplingParams.Greedy(4), 0);

    private static Sequence Seq(params int[] tokens) => new(0, Req, 0, tokens, new Sampler(SamplingParams.Greedy(4), 512), null);

    private static int[] Range(int start, int count) => Enumerable.Range(start, count).ToArray();

    private static BlockManager Manager(int full, int sliding, bool prefixCaching = false, Action<int, int, int>? copy = null) =>
        new([new BlockGroup(full, 0), new BlockGroup(sliding, 8)], 4, prefixCaching, copy);

    /// <summary>Decodes one token at a time as the scheduler does: grow, compute, commit, release.</summary>
    private static void Decode(BlockManager bm, Sequence seq, int upTo)
    {
        for (int t = seq.ComputedTokens; t < upTo; t++)
        {
            Assert.True(bm.Grow(seq, t + 1), $"out of blocks at position {t}");
            seq.ComputedTokens = t + 1;
            bm.CommitFullBlocks(seq);
            bm.ReleaseOutOfWindow(seq);
        }
    }

    [Fact]
    public void ALongSequenceHoldsAWindowOfSlidingBlocksWhileItsFullTableGrows()
    {
        // 40 positions are 10 blocks: the full pool holds them all, the sliding pool's 3 blocks serve the whole run.
        var bm = Manager(10, 3);
        var seq = Seq(Range(10, 40));
        for (int t = 0; t < 40; t++)
        {
            Decode(bm, seq, t + 1);
            int live = seq.Table(1).Length - seq.ReleasedBlocks(1);
            Assert.True(live <= 3, $"{live} sliding blocks live at {t + 1} computed");
            Assert.Equal(bm.Pool(1).UsedBlocks, live);
            // Every entry before the window's first block is the null block; none after it is.
            int first = Math.Max(0, t + 1 - 8 + 1) / 4;
            Assert.Equal(first, seq.ReleasedBlocks(1));
            for (int i = 0; i < seq.Table(1).Length; i++) Assert.Equal(i < first, seq.Table(1)[i] == BlockPool.Null);
        }
        Assert.Equal(10, bm.Pool(0).UsedBlocks);
        bm.CheckConsistency();
        bm.Free(seq);
        Assert.Equal(0, bm.UsedBlocks);
        bm.CheckConsistency();
    }

    [Fact]
    public void ReleasedSlidingBlocksServeAnotherSequence()
    {
        var bm = Manager(20, 5);
        var a = Seq(Range(10, 40));
        Decode(bm, a, 40);
        int heldByA = bm.Pool(1).UsedBlocks;
        // b needs 3 sliding blocks at once; only the ones a released make room.
        Assert.Equal(5 - heldByA, bm.Pool(1).AvailableBlocks);
        var b = Seq(Range(100, 12));
        Decode(bm, b, 12);
        Assert.Contains(b.Table(1)[^1], Enumerable.Range(1, 5));
        bm.Free(a);
        bm.Free(b);
        bm.CheckConsistency();
        Assert.Equal(0, bm.UsedBlocks);
    }

    [Fact]
    public void AForkSharesTheSlidingTableReleasedEntriesIncludedAndCopiesItsPartialBlock()
    {
        var copies = new List<(int Group, int Src, int Dst)>();
        var bm = Manager(16, 8, copy: (g, s, d) => copies.Add((g, s, d)));
        var parent = Seq(Range(10, 22));
        Decode(bm, parent, 22);
        var child = Seq(Range(10, 22));
        bm.Fork(parent, child);
        Assert.Equal(parent.Table(1).ToArray(), child.Table(1).ToArray());
        Assert.Equal(parent.ReleasedBlocks(1), child.ReleasedBlocks(1));
        Assert.True(child.ReleasedBlocks(1) > 0);
        // Position 22 is inside the shared partial block 5 of both tables: a copy in each pool.
        Assert.True(bm.Grow(child, 23));
        Assert.Equal([0, 1], copies.Select(c => c.Group).Order());
        child.ComputedTokens = 23;
        bm.ReleaseOutOfWindow(child);
        bm.Free(parent);
        bm.Free(child);
        Assert.Equal(0, bm.UsedBlocks);
        bm.CheckConsistency();
    }

    [Fact]
    public void TruncationAfterRejectedDraftsKeepsTheReleasedEntries()
    {
        var bm = Manager(16, 8);
        var seq = Seq(Range(10, 30));
        Decode(bm, seq, 20);
        // A verification run of 1 + 6 tokens from position 20, two accepted: the blocks past 23 go back.
        Assert.True(bm.Grow(seq, 27));
        seq.ComputedTokens = 23;
        bm.Truncate(seq, 24);
        bm.ReleaseOutOfWindow(seq);
        Assert.Equal(6, seq.Table(0).Length);
        Assert.Equal(6, seq.Table(1).Length);
        Assert.Equal(Math.Max(0, 23 - 8 + 1) / 4, seq.ReleasedBlocks(1));
        bm.Free(seq);
        bm.CheckConsistency();
        Assert.Equal(0, bm.UsedBlocks);
    }

    [Fact]
    public void APrefixHitTakesOnlyTheSlidingBlocksItsWindowReadsAndNoneThatWereEvicted()
    {
        var bm = Manager(16, 8, prefixCaching: true);
        var a = Seq(Range(10, 21));
        Decode(bm, a, 21);
        bm.Free(a);

        // 20 cached tokens: the full pool gives all 5 blocks, the sliding pool only blocks 3 and 4 (positions 12..19,
        // which position 20's window reaches); the entries before are the null block.
        var b = Seq([.. Range(10, 21), 7, 7, 7]);
        Assert.Equal(20, bm.MatchPrefix(b));
        Assert.Equal(5, b.Table(0).Length);
        Assert.Equal(3, b.ReleasedBlocks(1));
        Assert.Equal([BlockPool.Null, BlockPool.Null, BlockPool.Null], b.Table(1)[..3].ToArray());
        Assert.Equal(2, bm.Pool(1).UsedBlocks);
        bm.Free(b);

        // Another sequence takes every sliding block: the window's cached blocks are evicted, so the same prompt
        // finds no usable prefix even though the full pool still holds all of it.
        var c = Seq(Range(200, 32));
        Assert.True(bm.Grow(c, 32));
        var d = Seq([.. Range(10, 21), 7, 7, 7]);
        Assert.Equal(0, bm.MatchPrefix(d));
        Assert.Equal(0, d.BlockCount);
        bm.Free(c);
        bm.CheckConsistency();
        Assert.Equal(0, bm.UsedBlocks);
    }

    [Fact]
    public void APrefixHitIsCutBackToALengthWhoseWindowIsStillCached()
    {
        var bm = Manager(16, 8, prefixCaching: true);
        var a = Seq(Range(10, 21));
        Decode(bm, a, 21);
        bm.Free(a);
        // e shares a's first 16 tokens: it holds their window's sliding blocks (blocks 2 and 3), so they stay cached.
        var e = Seq([.. Range(10, 16), 9, 9, 9, 9]);
        Assert.Equal(16, bm.MatchPrefix(e));
        e.ComputedTokens = 16;
        Assert.True(bm.Grow(e, 20));
        // c takes every other sliding block: block 4 of a's prompt is evicted, blocks 2 and 3 are not.
        var c = Seq(Range(200, 20));
        Assert.True(bm.Grow(c, 20));
        Assert.Equal(0, bm.Pool(1).AvailableBlocks);
        // All 5 full blocks are cached in the global pool, but position 20's window needs block 4: the hit is 16 tokens.
        var d = Seq([.. Range(10, 21), 7, 7, 7]);
        Assert.Equal(16, bm.MatchPrefix(d));
        Assert.Equal(4, d.Table(0).Length);
        Assert.Equal(e.Table(1)[..4].ToArray(), d.Table(1).ToArray());
        Assert.Equal(2, d.ReleasedBlocks(1));
        foreach (var s in new[] { c, d, e }) bm.Free(s);
        bm.CheckConsistency();
        Assert.Equal(0, bm.UsedBlocks);
    }

    [Fact]
    public void WhenEveryLayerSlidesTheSlidingTableIsTheOnlyOne()
    {
        var bm = new BlockManager([new BlockGroup(3, 8)], 4, prefixCaching: true, copyBlock: null);
        Assert.Equal(long.MaxValue, bm.MaxSequenceTokens);
        var seq = Seq(Range(10, 100));
        Decode(bm, seq, 100);
        Assert.Equal(25, seq.BlockCount);
        Assert.True(bm.UsedBlocks <= 3);
        bm.Free(seq);
        bm.CheckConsistency();
    }
}
