using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

public class BlockManagerTests
{
    private static readonly Request Req = new("r", [1], SamplingParams.Greedy(4), 0);

    private static Sequence Seq(params int[] tokens) => new(0, Req, 0, tokens, new Sampler(SamplingParams.Greedy(4), 512), null);

    private static int[] Range(int start, int count) => Enumerable.Range(start, count).ToArray();

    [Fact]
    public void FullBlocksAreCachedAndReusedByALaterPromptWithTheSamePrefix()
    {
        var bm = new BlockManager(8, 4);
        var a = Seq(Range(10, 10));
        Assert.True(bm.Grow(a, 10));
        a.ComputedTokens = 10;
        bm.CommitFullBlocks(a);
        bm.Free(a);
        Assert.Equal(0, bm.UsedBlocks);
        Assert.Equal(2, bm.CachedBlocks);
        Assert.Equal(6, bm.FreeBlocks);

        // Same first 9 tokens, different tail: both full blocks match.
        var b = Seq([.. Range(10, 9), 99, 98]);
        Assert.Equal(8, bm.MatchPrefix(b));
        Assert.Equal(2, bm.UsedBlocks);
        Assert.Equal(0, bm.CachedBlocks);
        Assert.Equal(1.0, bm.PrefixHitRate);
        bm.CheckConsistency();

        // Differing in the first block: nothing matches.
        var c = Seq([.. Range(11, 10)]);
        Assert.Equal(0, bm.MatchPrefix(c));
        Assert.True(bm.PrefixHitRate < 1.0);
    }

    [Fact]
    public void ThePromptsLastTokenIsNeverServedFromTheCache()
    {
        var bm = new BlockManager(8, 4);
        var a = Seq(Range(10, 8));
        Assert.True(bm.Grow(a, 8));
        a.ComputedTokens = 8;
        bm.CommitFullBlocks(a);
        bm.Free(a);
        // Identical 8-token prompt: the second block holds the last token, whose logits are needed.
        Assert.Equal(4, bm.MatchPrefix(Seq(Range(10, 8))));
    }

    [Fact]
    public void CachedBlocksAreEvictedOnlyWhenSpaceIsNeededOldestFirst()
    {
        var bm = new BlockManager(4, 2);
        var a = Seq(Range(10, 4));
        Assert.True(bm.Grow(a, 4));
        a.ComputedTokens = 4;
        bm.CommitFullBlocks(a);
        bm.Free(a);
        Assert.Equal(2, bm.CachedBlocks);

        // Two free blocks remain: taking them leaves the cache alone.
        var b = Seq(Range(50, 4));
        Assert.True(bm.Grow(b, 4));
        Assert.Equal(2, bm.CachedBlocks);
        // One more block: the cached chain gives up its tail first (released first from the tail).
        var c = Seq(Range(60, 2));
        Assert.True(bm.Grow(c, 2));
        Assert.Equal(1, bm.CachedBlocks);
        Assert.Equal(2, bm.MatchPrefix(Seq(Range(10, 5))));
        Assert.False(bm.Grow(Seq(1, 2, 3), 3));
        bm.CheckConsistency();
    }

    [Fact]
    public void ForkSharesEveryBlockAndCopiesThePartialOneOnFirstWrite()
    {
        var copies = new List<(int, int)>();
        var bm = new BlockManager(8, 4, copyBlock: (s, d) => copies.Add((s, d)));
        var parent = Seq(Range(10, 6));
        Assert.True(bm.Grow(parent, 6));
        parent.ComputedTokens = 6;
        var child = Seq(Range(10, 6));
        bm.Fork(parent, child);
        Assert.Equal(parent.Blocks.ToArray(), child.Blocks.ToArray());
        Assert.Equal(6, child.ComputedTokens);
        Assert.Equal(2, bm.UsedBlocks);
        Assert.All(parent.Blocks.ToArray(), b => Assert.Equal(2, bm.RefCount(b)));

        // The child writes position 6, inside the shared second block: it gets its own copy.
        Assert.Equal(1, bm.BlocksNeeded(child, 7));
        Assert.True(bm.Grow(child, 7));
        Assert.Single(copies);
        Assert.Equal((parent.Blocks[1], child.Blocks[1]), copies[0]);
        Assert.Equal(parent.Blocks[0], child.Blocks[0]);
        Assert.NotEqual(parent.Blocks[1], child.Blocks[1]);
        Assert.Equal(1, bm.RefCount(parent.Blocks[1]));
        // The parent now holds its partial block alone: writing it copies nothing.
        Assert.True(bm.Grow(parent, 7));
        Assert.Single(copies);
        Assert.Equal(3, bm.UsedBlocks);

        bm.Free(parent);
        bm.Free(child);
        Assert.Equal(0, bm.UsedBlocks);
        bm.CheckConsistency();
    }

    [Fact]
    public void ForkAtABlockBoundaryCopiesNothing()
    {
        var copies = 0;
        var bm = new BlockManager(8, 4, copyBlock: (_, _) => copies++);
        var parent = Seq(Range(10, 8));
        Assert.True(bm.Grow(parent, 8));
        parent.ComputedTokens = 8;
        var child = Seq(Range(10, 8));
        bm.Fork(parent, child);
        Assert.True(bm.Grow(child, 9));
        Assert.Equal(0, copies);
        Assert.Equal(3, child.BlockCount);
    }

    [Fact]
    public void CopyOnWriteNeedsAFreeBlock()
    {
        var bm = new BlockManager(2, 4, copyBlock: (_, _) => { });
        var parent = Seq(Range(10, 6));
        Assert.True(bm.Grow(parent, 6));
        parent.ComputedTokens = 6;
        var child = Seq(Range(10, 6));
        bm.Fork(parent, child);
        Assert.False(bm.CanGrow(child, 7));
        Assert.False(bm.Grow(child, 7));
        Assert.Equal(parent.Blocks.ToArray(), child.Blocks.ToArray());
        bm.CheckConsistency();
    }
}
