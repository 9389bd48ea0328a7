namespace Loom.Engine;

/// <summary>
/// Owns the KV cache's blocks: who holds which (reference counts), and the prefix cache. A full block is named
/// by a hash chained over its tokens and its predecessor's hash, so equal prefixes map to equal blocks. Blocks
/// nobody references stay cached (reusable by a later prompt with the same prefix) until space is needed; then
/// the least recently released is evicted first. Sequences forked from one prompt (n &gt; 1) share all its blocks,
/// the last partial one included; the first write into a shared partial block copies it (copy-on-write).
/// </summary>
public sealed class BlockManager
{
    private readonly int[] _refCount;
    private readonly ulong[] _hash;           // 0 = not a cached full block
    private readonly int[] _blockTokens;      // tokens of each cached full block (block b at b·BlockSize), to rule out hash collisions
    private readonly Dictionary<ulong, int> _cached;
    // How far each sequence's blocks are hashed into the prefix cache: the chain hash of its first Blocks blocks.
    // Kept here with the hashing it serves; an entry lives while the sequence holds blocks.
    private readonly Dictionary<Sequence, PrefixChain> _chains = new(ReferenceEqualityComparer.Instance);
    // Unreferenced blocks in release order: plain free ones and cached ones alike; allocation takes the oldest.
    // Each block keeps its one node for life, so taking and releasing blocks allocates nothing.
    private readonly LinkedList<int> _available = new();
    private readonly LinkedListNode<int>[] _node;

    private readonly Action<int, int>? _copyBlock;

    /// <param name="numBlocks">Blocks in the pool.</param>
    /// <param name="blockSize">Tokens per block.</param>
    /// <param name="prefixCaching">Keep full blocks reusable by later prompts with the same prefix.</param>
    /// <param name="copyBlock">Copies a block's K/V (source, destination) when a shared partial block is written;
    /// needed only when sequences are <see cref="Fork"/>ed.</param>
    public BlockManager(int numBlocks, int blockSize, bool prefixCaching = true, Action<int, int>? copyBlock = null)
    {
        _copyBlock = copyBlock;
        if (numBlocks <= 0 || blockSize <= 0) throw new ArgumentOutOfRangeException(nameof(numBlocks));
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        PrefixCaching = prefixCaching;
        _refCount = new int[numBlocks];
        _hash = new ulong[numBlocks];
        _blockTokens = prefixCaching ? new int[checked(numBlocks * blockSize)] : [];
        _cached = new Dictionary<ulong, int>(numBlocks);
        _node = new LinkedListNode<int>[numBlocks];
        for (int b = 0; b < numBlocks; b++) _node[b] = _available.AddLast(b);
    }

    public int NumBlocks { get; }
    public int BlockSize { get; }
    public bool PrefixCaching { get; }
    /// <summary>Blocks referenced by at least one sequence.</summary>
    public int UsedBlocks { get; private set; }
    /// <summary>Unreferenced blocks that still hold a cached prefix.</summary>
    public int CachedBlocks => _cached.Count - CachedInUse;
    /// <summary>Blocks that can be handed out now (free or evictable).</summary>
    public int AvailableBlocks => _available.Count;
    /// <summary>Unreferenced blocks holding nothing.</summary>
    public int FreeBlocks => AvailableBlocks - CachedBlocks;
    private int CachedInUse { get; set; }
    public long PrefixQueries { get; private set; }
    public long PrefixHits { get; private set; }
    public double PrefixHitRate => PrefixQueries == 0 ? 0 : (double)PrefixHits / PrefixQueries;

    /// <summary>Blocks needed to hold <paramref name="tokens"/> tokens.</summary>
    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    /// <summary>
    /// Attaches cached blocks for the longest cached prefix of <paramref name="seq"/>'s tokens (whole blocks,
    /// never the block holding the last token, which must be computed to produce logits). Returns the number of tokens reused.
    /// </summary>
    public int MatchPrefix(Sequence seq)
    {
        if (!PrefixCaching || seq.BlockCount != 0) return 0;
        var tokens = seq.Tokens;
        int fullBlocks = (tokens.Length - 1) / BlockSize;
        var chain = default(PrefixChain);
        int matched = 0;
        for (int i = 0; i < fullBlocks; i++)
        {
            var chunk = tokens.Slice(i * BlockSize, BlockSize);
            ulong h = Hash(chain.Hash, chunk);
            PrefixQueries++;
            if (!_cached.TryGetValue(h, out int b) || !chunk.SequenceEqual(CachedTokens(b))) break;
            PrefixHits++;
            Acquire(b);
            seq.AddBlock(b);
            chain = new PrefixChain(h, ++matched);
        }
        if (matched > 0) _chains[seq] = chain;
        // Count the misses of the blocks never looked at, so the hit rate is over all full prompt blocks.
        PrefixQueries += Math.Max(0, fullBlocks - matched - 1);
        return matched * BlockSize;
    }

    /// <summary>Blocks a write of the sequence's tokens up to <paramref name="tokens"/> takes: new ones, plus a copy of a shared partial block.</summary>
    public int BlocksNeeded(Sequence seq, int tokens) => Math.Max(0, BlocksFor(tokens) - seq.BlockCount) + (SharedPartialBlock(seq) >= 0 ? 1 : 0);

    /// <summary>True when the sequence's table can grow to cover <paramref name="tokens"/> tokens.</summary>
    public bool CanGrow(Sequence seq, int tokens) => BlocksNeeded(seq, tokens) <= AvailableBlocks;

    /// <summary>
    /// Makes the sequence's table ready for writing its tokens from <see cref="Sequence.ComputedTokens"/> up to
    /// <paramref name="tokens"/>: copies the block being written if another sequence shares it, and adds blocks to
    /// cover the rest. False (and nothing changed) when out of blocks.
    /// </summary>
    public bool Grow(Sequence seq, int tokens)
    {
        if (BlocksNeeded(seq, tokens) > AvailableBlocks) return false;
        int shared = SharedPartialBlock(seq);
        if (shared >= 0)
        {
            if (_copyBlock is null) throw new InvalidOperationException("a shared block is written but the block manager cannot copy blocks");
            int old = seq.Blocks[shared], copy = TakeFresh();
            _copyBlock(old, copy);
            Release(old);
            seq.ReplaceBlock(shared, copy);
        }
        int need = BlocksFor(tokens) - seq.BlockCount;
        for (int i = 0; i < need; i++) seq.AddBlock(TakeFresh());
        return true;
    }

    /// <summary>
    /// Gives <paramref name="child"/> (which holds no blocks) the block table of <paramref name="parent"/>, sharing every
    /// block; the child's first write into a shared partial block copies it. The child's computed tokens are the parent's.
    /// </summary>
    public void Fork(Sequence parent, Sequence child)
    {
        if (child.BlockCount != 0) throw new InvalidOperationException("a forked sequence must start without blocks");
        foreach (int b in parent.Blocks)
        {
            Acquire(b);
            child.AddBlock(b);
        }
        if (_chains.TryGetValue(parent, out var chain)) _chains[child] = chain;
        child.ComputedTokens = parent.ComputedTokens;
    }

    /// <summary>Index in the table of the partially written block the next write goes to, when another sequence also holds it; else -1.</summary>
    private int SharedPartialBlock(Sequence seq)
    {
        int pos = seq.ComputedTokens;
        if (pos % BlockSize == 0) return -1;
        int i = pos / BlockSize;
        return i < seq.BlockCount && _refCount[seq.Blocks[i]] > 1 ? i : -1;
    }

    /// <summary>References held on a block (0 = free or cached).</summary>
    public int RefCount(int block) => _refCount[block];

    /// <summary>
    /// Registers the sequence's blocks that became full with computed tokens, so later prompts can reuse them.
    /// Call after each forward pass that computed some of its tokens.
    /// </summary>
    public void CommitFullBlocks(Sequence seq)
    {
        if (!PrefixCaching) return;
        var tokens = seq.Tokens;
        int full = seq.ComputedTokens / BlockSize;
        _chains.TryGetValue(seq, out var chain);
        if (chain.Blocks >= full) return;
        for (int i = chain.Blocks; i < full; i++)
        {
            int b = seq.Blocks[i];
            var chunk = tokens.Slice(i * BlockSize, BlockSize);
            chain = new PrefixChain(Hash(chain.Hash, chunk), i + 1);
            // A block already cached (reused), or an equal block cached elsewhere: keep the first.
            if (_hash[b] != 0 || _cached.ContainsKey(chain.Hash)) continue;
            _hash[b] = chain.Hash;
            chunk.CopyTo(_blockTokens.AsSpan(b * BlockSize, BlockSize));
            _cached[chain.Hash] = b;
            CachedInUse++;
        }
        _chains[seq] = chain;
    }

    /// <summary>
    /// Releases the sequence's blocks past those that hold its first <paramref name="tokens"/> tokens (the slots of
    /// rejected speculative tokens). They were taken fresh for this step and never committed, so they return as free.
    /// </summary>
    public void Truncate(Sequence seq, int tokens)
    {
        int keep = BlocksFor(tokens);
        _chains.TryGetValue(seq, out var chain);
        if (chain.Blocks > keep) throw new InvalidOperationException("truncating a sequence below its committed prefix");
        while (seq.BlockCount > keep) Release(seq.RemoveLastBlock());
    }

    /// <summary>Releases every block of the sequence; cached ones stay reusable until evicted.</summary>
    public void Free(Sequence seq)
    {
        var blocks = seq.Blocks;
        // Release from the tail so a prefix's later blocks are evicted before its earlier ones.
        for (int i = blocks.Length - 1; i >= 0; i--) Release(blocks[i]);
        seq.ClearBlocks();
        _chains.Remove(seq);
    }

    private void Acquire(int b)
    {
        if (_refCount[b]++ == 0)
        {
            _available.Remove(_node[b]);
            UsedBlocks++;
            if (_hash[b] != 0) CachedInUse++;
        }
    }

    private void Release(int b)
    {
        if (_refCount[b] <= 0) throw new InvalidOperationException($"block {b} released more often than acquired");
        if (--_refCount[b] == 0)
        {
            _available.AddLast(_node[b]);
            UsedBlocks--;
            if (_hash[b] != 0) CachedInUse--;
        }
    }

    private int TakeFresh()
    {
        int b = _available.First!.Value;
        if (_hash[b] != 0)
        {
            // Evict: the oldest released block gives up its cached prefix.
            _cached.Remove(_hash[b]);
            _hash[b] = 0;
        }
        Acquire(b);
        return b;
    }

    /// <summary>
    /// 64-bit FNV-1a over the predecessor hash's 8 bytes and each token's 4 (little-endian); never 0 (0 marks "no hash").
    /// </summary>
    internal static ulong Hash(ulong previous, ReadOnlySpan<int> tokens)
    {
        const ulong Prime = 1099511628211UL;
        ulong h = 14695981039346656037UL;
        for (int i = 0; i < 8; i++) h = (h ^ ((previous >> (8 * i)) & 0xFF)) * Prime;
        foreach (int t in tokens)
            for (int i = 0; i < 4; i++) h = (h ^ (((uint)t >> (8 * i)) & 0xFF)) * Prime;
        return h == 0 ? 1 : h;
    }

    /// <summary>Checks the invariants: every block is used, cached-unreferenced or free, and counts agree.</summary>
    public void CheckConsistency()
    {
        int used = 0, inUseCached = 0;
        for (int b = 0; b < NumBlocks; b++)
        {
            if (_refCount[b] < 0) throw new InvalidOperationException($"block {b} has negative references");
            if (_refCount[b] > 0) { used++; if (_hash[b] != 0) inUseCached++; if (_node[b].List is not null) throw new InvalidOperationException($"block {b} is in use and available"); }
            else if (_node[b].List is null) throw new InvalidOperationException($"block {b} is neither in use nor available");
        }
        if (used != UsedBlocks || inUseCached != CachedInUse || used + _available.Count != NumBlocks)
            throw new InvalidOperationException("block counters disagree with the blocks");
    }

    private ReadOnlySpan<int> CachedTokens(int b) => _blockTokens.AsSpan(b * BlockSize, BlockSize);

    private readonly record struct PrefixChain(ulong Hash, int Blocks);
}
