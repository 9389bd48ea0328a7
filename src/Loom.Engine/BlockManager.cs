namespace Loom.Engine;

/// <summary>
/// Owns the KV cache's blocks: who holds which (reference counts), and the prefix cache. The cache has one or two
/// groups (<see cref="BlockGroup"/>), each a <see cref="BlockPool"/> of its own with a block table per sequence, as
/// vLLM's hybrid allocator has: the full-attention layers', and the sliding-window layers' (the only group when every
/// layer slides). A sliding group's table releases the blocks that fell out of the window of the sequence's newest
/// computed position (<see cref="ReleaseOutOfWindow"/>): a sequence holds about window / block size of them however
/// long it grows, and the rest serve other sequences. Tables of all groups cover the same positions and grow, fork,
/// shrink and free together. A full block is named by a hash chained over its tokens and its predecessor's hash, so
/// equal prefixes map to equal blocks, in every pool. Blocks nobody references stay cached until space is needed;
/// then the least recently released is evicted first. Sequences forked from one prompt (n &gt; 1) share all its
/// blocks, the last partial one included; the first write into a shared partial block copies it (copy-on-write).
/// </summary>
public sealed class BlockManager
{
    private readonly BlockPool[] _pools;
    private readonly int[] _windows;
    // How far each sequence's blocks are hashed into the prefix cache: the chain hash of its first Blocks blocks.
    // Kept here with the hashing it serves; an entry lives while the sequence holds blocks.
    private readonly Dictionary<Sequence, PrefixChain> _chains = new(ReferenceEqualityComparer.Instance);
    private readonly Action<int, int, int>? _copyBlock;
    private ulong[] _hashes = new ulong[64];   // MatchPrefix's chain hashes, grown to the longest prompt seen

    /// <param name="numBlocks">Blocks in the pool.</param>
    /// <param name="blockSize">Tokens per block.</param>
    /// <param name="prefixCaching">Keep full blocks reusable by later prompts with the same prefix.</param>
    /// <param name="copyBlock">Copies a block's K/V (source, destination) when a shared partial block is written;
    /// needed only when sequences are <see cref="Fork"/>ed.</param>
    public BlockManager(int numBlocks, int blockSize, bool prefixCaching = true, Action<int, int>? copyBlock = null)
        : this([new BlockGroup(numBlocks, 0)], blockSize, prefixCaching, copyBlock is null ? null : (_, s, d) => copyBlock(s, d)) { }

    /// <summary>
    /// A manager of one pool per cache group (<paramref name="groups"/>, in the KV cache's order); <paramref name="copyBlock"/>
    /// copies a block's K/V within a group (group, source, destination).
    /// </summary>
    public BlockManager(IReadOnlyList<BlockGroup> groups, int blockSize, bool prefixCaching, Action<int, int, int>? copyBlock)
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (groups.Count is < 1 or > 2 || blockSize <= 0) throw new ArgumentOutOfRangeException(nameof(groups));
        _copyBlock = copyBlock;
        BlockSize = blockSize;
        PrefixCaching = prefixCaching;
        _pools = groups.Select(g => new BlockPool(g.Blocks, blockSize, prefixCaching, reserveNull: g.Window > 0)).ToArray();
        _windows = groups.Select(g => g.Window).ToArray();
    }

    public int BlockSize { get; }
    public bool PrefixCaching { get; }
    /// <summary>Cache groups (pools with a table each).</summary>
    public int Groups => _pools.Length;
    /// <summary>Group <paramref name="group"/>'s window: 0 for full attention.</summary>
    public int Window(int group) => _windows[group];
    internal BlockPool Pool(int group) => _pools[group];

    /// <summary>Blocks in all pools.</summary>
    public int NumBlocks => Sum(p => p.NumBlocks);
    /// <summary>Blocks referenced by at least one sequence, in all pools.</summary>
    public int UsedBlocks => Sum(p => p.UsedBlocks);
    /// <summary>Unreferenced blocks that still hold a cached prefix, in all pools.</summary>
    public int CachedBlocks => Sum(p => p.CachedBlocks);
    /// <summary>Unreferenced blocks holding nothing, in all pools.</summary>
    public int FreeBlocks => Sum(p => p.FreeBlocks);
    /// <summary>
    /// The longest sequence the cache can hold: a full-attention pool's positions, or unbounded by the cache when
    /// every layer slides (a sequence then holds only its window's blocks).
    /// </summary>
    public long MaxSequenceTokens
    {
        get
        {
            for (int g = 0; g < _pools.Length; g++) if (_windows[g] == 0) return (long)_pools[g].NumBlocks * BlockSize;
            return long.MaxValue;
        }
    }
    public long PrefixQueries { get; private set; }
    public long PrefixHits { get; private set; }
    public double PrefixHitRate => PrefixQueries == 0 ? 0 : (double)PrefixHits / PrefixQueries;

    private int Sum(Func<BlockPool, int> f)
    {
        int n = 0;
        foreach (var p in _pools) n += f(p);
        return n;
    }

    /// <summary>Blocks needed to hold <paramref name="tokens"/> tokens.</summary>
    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    /// <summary>
    /// Table entries of group <paramref name="group"/> that no position from <paramref name="computed"/> on reads:
    /// the blocks wholly older than the window of position <paramref name="computed"/> (0 for full attention).
    /// </summary>
    private int OutOfWindow(int group, int computed) =>
        _windows[group] == 0 ? 0 : Math.Max(0, computed - _windows[group] + 1) / BlockSize;

    private bool IsNull(int group, int block) => _windows[group] > 0 && block == BlockPool.Null;

    /// <summary>
    /// Attaches cached blocks for the longest cached prefix of <paramref name="seq"/>'s tokens (whole blocks,
    /// never the block holding the last token, which must be computed to produce logits). A prefix of L tokens is
    /// usable only when every full-attention pool holds all its blocks and every sliding pool the blocks that
    /// positions from L on still read (those covering L - window + 1 .. L - 1); otherwise a shorter one is taken.
    /// Returns the number of tokens reused.
    /// </summary>
    public int MatchPrefix(Sequence seq)
    {
        if (!PrefixCaching || seq.BlockCount != 0) return 0;
        var tokens = seq.Tokens;
        int fullBlocks = (tokens.Length - 1) / BlockSize;
        if (_hashes.Length < fullBlocks) _hashes = new ulong[Math.Max(fullBlocks, 2 * _hashes.Length)];
        ulong h = 0;
        int m = 0;
        for (; m < fullBlocks; m++)
        {
            var chunk = Chunk(tokens, m);
            _hashes[m] = h = Hash(h, chunk);
            bool held = true;
            for (int g = 0; g < _pools.Length && held; g++) held = _windows[g] != 0 || _pools[g].Lookup(h, chunk) >= 0;
            if (!held) break;
        }
        while (m > 0 && !WindowsHeld(tokens, m)) m--;
        PrefixQueries += fullBlocks;
        PrefixHits += m;
        if (m == 0) return 0;
        for (int g = 0; g < _pools.Length; g++)
        {
            int first = OutOfWindow(g, m * BlockSize);
            for (int i = 0; i < m; i++)
            {
                if (i < first) { Append(seq, g, BlockPool.Null); continue; }
                int b = _pools[g].Lookup(_hashes[i], Chunk(tokens, i));
                _pools[g].Acquire(b);
                Append(seq, g, b);
            }
            seq.SetReleased(g, first);
        }
        _chains[seq] = new PrefixChain(_hashes[m - 1], m);
        return m * BlockSize;
    }

    /// <summary>Whether every sliding pool still holds the cached blocks a prefix of <paramref name="m"/> blocks needs.</summary>
    private bool WindowsHeld(ReadOnlySpan<int> tokens, int m)
    {
        for (int g = 0; g < _pools.Length; g++)
        {
            if (_windows[g] == 0) continue;
            for (int i = OutOfWindow(g, m * BlockSize); i < m; i++)
                if (_pools[g].Lookup(_hashes[i], Chunk(tokens, i)) < 0) return false;
        }
        return true;
    }

    private ReadOnlySpan<int> Chunk(ReadOnlySpan<int> tokens, int block) => tokens.Slice(block * BlockSize, BlockSize);

    /// <summary>Blocks a write of the sequence's tokens up to <paramref name="tokens"/> takes, in all pools: new ones, plus a copy of a shared partial block.</summary>
    public int BlocksNeeded(Sequence seq, int tokens)
    {
        int n = 0;
        for (int g = 0; g < _pools.Length; g++) n += BlocksNeeded(seq, tokens, g);
        return n;
    }

    private int BlocksNeeded(Sequence seq, int tokens, int g) =>
        Math.Max(0, BlocksFor(tokens) - seq.Table(g).Length) + (SharedPartialBlock(seq, g) >= 0 ? 1 : 0);

    /// <summary>True when the sequence's tables can grow to cover <paramref name="tokens"/> tokens.</summary>
    public bool CanGrow(Sequence seq, int tokens)
    {
        for (int g = 0; g < _pools.Length; g++)
            if (BlocksNeeded(seq, tokens, g) > _pools[g].AvailableBlocks) return false;
        return true;
    }

    /// <summary>
    /// The most tokens the sequence's tables could cover now, every pool's free and evictable blocks taken
    /// (a chunked prefill takes the part of its chunk that fits).
    /// </summary>
    public int GrowableTokens(Sequence seq)
    {
        long fit = long.MaxValue;
        for (int g = 0; g < _pools.Length; g++) fit = Math.Min(fit, (long)(seq.Table(g).Length + _pools[g].AvailableBlocks) * BlockSize);
        return (int)Math.Min(fit, int.MaxValue);
    }

    /// <summary>
    /// Makes the sequence's tables ready for writing its tokens from <see cref="Sequence.ComputedTokens"/> up to
    /// <paramref name="tokens"/>: copies the block being written if another sequence shares it, and adds blocks to
    /// cover the rest. False (and nothing changed) when any pool is out of blocks.
    /// </summary>
    public bool Grow(Sequence seq, int tokens)
    {
        if (!CanGrow(seq, tokens)) return false;
        for (int g = 0; g < _pools.Length; g++)
        {
            var pool = _pools[g];
            int shared = SharedPartialBlock(seq, g);
            if (shared >= 0)
            {
                if (_copyBlock is null) throw new InvalidOperationException("a shared block is written but the block manager cannot copy blocks");
                int old = seq.Table(g)[shared], copy = pool.TakeFresh();
                _copyBlock(g, old, copy);
                pool.Release(old);
                seq.ReplaceBlock(g, shared, copy);
            }
            int need = BlocksFor(tokens) - seq.Table(g).Length;
            for (int i = 0; i < need; i++) Append(seq, g, pool.TakeFresh());
        }
        return true;
    }

    /// <summary>
    /// Adds a block to a table. A table's first block sizes it for the sequence's planned length (its prompt and length
    /// limit), so a generating sequence's table never grows and a decode step allocates nothing.
    /// </summary>
    private void Append(Sequence seq, int g, int block)
    {
        if (seq.Table(g).IsEmpty) seq.ReserveBlocks(g, BlocksFor(seq.TokenCapacity));
        seq.AddBlock(g, block);
    }

    /// <summary>
    /// Gives <paramref name="child"/> (which holds no blocks) the block tables of <paramref name="parent"/>, sharing every
    /// block; the child's first write into a shared partial block copies it. The child's computed tokens are the parent's.
    /// </summary>
    public void Fork(Sequence parent, Sequence child)
    {
        if (child.BlockCount != 0) throw new InvalidOperationException("a forked sequence must start without blocks");
        for (int g = 0; g < _pools.Length; g++)
        {
            foreach (int b in parent.Table(g))
            {
                if (!IsNull(g, b)) _pools[g].Acquire(b);
                Append(child, g, b);
            }
            child.SetReleased(g, parent.ReleasedBlocks(g));
        }
        if (_chains.TryGetValue(parent, out var chain)) _chains[child] = chain;
        child.ComputedTokens = parent.ComputedTokens;
    }

    /// <summary>Index in group g's table of the partially written block the next write goes to, when another sequence also holds it; else -1.</summary>
    private int SharedPartialBlock(Sequence seq, int g)
    {
        int pos = seq.ComputedTokens;
        if (pos % BlockSize == 0) return -1;
        int i = pos / BlockSize;
        var table = seq.Table(g);
        return i < table.Length && !IsNull(g, table[i]) && _pools[g].RefCount(table[i]) > 1 ? i : -1;
    }

    /// <summary>References held on a block of the first pool (0 = free or cached).</summary>
    public int RefCount(int block) => _pools[0].RefCount(block);

    /// <summary>
    /// Registers the sequence's blocks that became full with computed tokens, in every pool, so later prompts can
    /// reuse them. Call after each forward pass that computed some of its tokens (before <see cref="ReleaseOutOfWindow"/>).
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
            var chunk = Chunk(tokens, i);
            chain = new PrefixChain(Hash(chain.Hash, chunk), i + 1);
            for (int g = 0; g < _pools.Length; g++)
            {
                int b = seq.Table(g)[i];
                // A released block was committed before it left the window; a block already cached (reused), or an
                // equal block cached elsewhere, keeps the first.
                if (!IsNull(g, b)) _pools[g].Register(b, chain.Hash, chunk);
            }
        }
        _chains[seq] = chain;
    }

    /// <summary>
    /// Releases the sliding tables' blocks that no later position of the sequence reads: those wholly older than
    /// the window of its next position (<see cref="Sequence.ComputedTokens"/>). Every chunk the scheduler runs later
    /// (a prefill chunk, a decode, a speculative verification or a self-draft) starts at that position or after it,
    /// and reads no further back than its window. Their table entries become the null block. Call after each pass.
    /// </summary>
    public void ReleaseOutOfWindow(Sequence seq)
    {
        for (int g = 0; g < _pools.Length; g++)
        {
            if (_windows[g] == 0) continue;
            var table = seq.TableArray(g);
            int first = Math.Min(OutOfWindow(g, seq.ComputedTokens), seq.Table(g).Length);
            for (int i = seq.ReleasedBlocks(g); i < first; i++)
            {
                if (table[i] != BlockPool.Null) _pools[g].Release(table[i]);
                table[i] = BlockPool.Null;
            }
            if (first > seq.ReleasedBlocks(g)) seq.SetReleased(g, first);
        }
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
        for (int g = 0; g < _pools.Length; g++)
        {
            if (keep < seq.ReleasedBlocks(g)) throw new InvalidOperationException("truncating a sequence below its released window");
            while (seq.Table(g).Length > keep)
            {
                int b = seq.RemoveLastBlock(g);
                if (!IsNull(g, b)) _pools[g].Release(b);
            }
        }
    }

    /// <summary>Releases every block of the sequence; cached ones stay reusable until evicted.</summary>
    public void Free(Sequence seq)
    {
        for (int g = 0; g < _pools.Length; g++)
        {
            var blocks = seq.Table(g);
            // Release from the tail so a prefix's later blocks are evicted before its earlier ones.
            for (int i = blocks.Length - 1; i >= 0; i--)
                if (!IsNull(g, blocks[i])) _pools[g].Release(blocks[i]);
        }
        seq.ClearBlocks();
        _chains.Remove(seq);
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

    /// <summary>Checks the invariants: in every pool, every block is used, cached-unreferenced or free, and counts agree.</summary>
    public void CheckConsistency()
    {
        foreach (var p in _pools) p.CheckConsistency();
    }

    private readonly record struct PrefixChain(ulong Hash, int Blocks);
}
