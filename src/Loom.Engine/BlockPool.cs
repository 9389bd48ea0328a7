namespace Loom.Engine;

/// <summary>
/// One pool of KV blocks (one cache group's memory): reference counts, the blocks nobody references in release
/// order (allocation takes the oldest, evicting its cached prefix if it has one) and the prefix cache's map from a
/// chained block hash to the block holding it. A pool for sliding-window layers reserves block 0 as the null
/// block: a table entry whose block fell out of the window points there, it is never handed out, and nothing reads it.
/// </summary>
internal sealed class BlockPool
{
    /// <summary>The block a released table entry of a sliding pool points to.</summary>
    public const int Null = 0;

    private readonly int[] _refCount;
    private readonly ulong[] _hash;           // 0 = not a cached full block
    private readonly int[] _blockTokens;      // tokens of each cached full block (block b at b·BlockSize), to rule out hash collisions
    private readonly Dictionary<ulong, int> _cached;
    // Each block keeps its one node for life, so taking and releasing blocks allocates nothing.
    private readonly LinkedList<int> _available = new();
    private readonly LinkedListNode<int>[] _node;
    private readonly int _first;              // 1 when block 0 is the reserved null block

    /// <summary>A pool of <paramref name="numBlocks"/> blocks that can be handed out (the null block, when reserved, comes on top).</summary>
    public BlockPool(int numBlocks, int blockSize, bool prefixCaching, bool reserveNull)
    {
        if (numBlocks <= 0 || blockSize <= 0) throw new ArgumentOutOfRangeException(nameof(numBlocks));
        _first = reserveNull ? 1 : 0;
        int total = numBlocks + _first;
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        _refCount = new int[total];
        _hash = new ulong[total];
        _blockTokens = prefixCaching ? new int[checked(total * blockSize)] : [];
        _cached = new Dictionary<ulong, int>(total);
        _node = new LinkedListNode<int>[total];
        for (int b = _first; b < total; b++) _node[b] = _available.AddLast(b);
    }

    public int NumBlocks { get; }
    public int BlockSize { get; }
    /// <summary>Whether block 0 is the null block (a sliding pool's).</summary>
    public bool HasNull => _first == 1;
    public int UsedBlocks { get; private set; }
    public int CachedBlocks => _cached.Count - CachedInUse;
    public int AvailableBlocks => _available.Count;
    public int FreeBlocks => AvailableBlocks - CachedBlocks;
    private int CachedInUse { get; set; }

    public int RefCount(int block) => _refCount[block];

    /// <summary>The cached block holding the full block whose chain hash is <paramref name="hash"/> and tokens <paramref name="tokens"/>; -1 if none.</summary>
    public int Lookup(ulong hash, ReadOnlySpan<int> tokens) =>
        _cached.TryGetValue(hash, out int b) && tokens.SequenceEqual(_blockTokens.AsSpan(b * BlockSize, BlockSize)) ? b : -1;

    /// <summary>Caches a full block under its chain hash, unless it or an equal block already is (the first is kept).</summary>
    public void Register(int b, ulong hash, ReadOnlySpan<int> tokens)
    {
        if (_hash[b] != 0 || _cached.ContainsKey(hash)) return;
        _hash[b] = hash;
        tokens.CopyTo(_blockTokens.AsSpan(b * BlockSize, BlockSize));
        _cached[hash] = b;
        if (_refCount[b] > 0) CachedInUse++;
    }

    public void Acquire(int b)
    {
        if (b < _first) throw new InvalidOperationException("the null block is never acquired");
        if (_refCount[b]++ == 0)
        {
            _available.Remove(_node[b]);
            UsedBlocks++;
            if (_hash[b] != 0) CachedInUse++;
        }
    }

    public void Release(int b)
    {
        if (b < _first) throw new InvalidOperationException("the null block is never released");
        if (_refCount[b] <= 0) throw new InvalidOperationException($"block {b} released more often than acquired");
        if (--_refCount[b] == 0)
        {
            _available.AddLast(_node[b]);
            UsedBlocks--;
            if (_hash[b] != 0) CachedInUse--;
        }
    }

    /// <summary>Takes the oldest unreferenced block; a cached one gives up its prefix.</summary>
    public int TakeFresh()
    {
        int b = _available.First!.Value;
        if (_hash[b] != 0)
        {
            _cached.Remove(_hash[b]);
            _hash[b] = 0;
        }
        Acquire(b);
        return b;
    }

    /// <summary>Checks the invariants: every block is used, cached-unreferenced or free, and counts agree.</summary>
    public void CheckConsistency()
    {
        int used = 0, inUseCached = 0;
        if (_first == 1 && (_refCount[0] != 0 || _hash[0] != 0)) throw new InvalidOperationException("the null block was handed out");
        for (int b = _first; b < _refCount.Length; b++)
        {
            if (_refCount[b] < 0) throw new InvalidOperationException($"block {b} has negative references");
            if (_refCount[b] > 0) { used++; if (_hash[b] != 0) inUseCached++; if (_node[b].List is not null) throw new InvalidOperationException($"block {b} is in use and available"); }
            else if (_node[b].List is null) throw new InvalidOperationException($"block {b} is neither in use nor available");
        }
        if (used != UsedBlocks || inUseCached != CachedInUse || used + _available.Count != NumBlocks)
            throw new InvalidOperationException("block counters disagree with the blocks");
    }

    /// <summary>Unreferenced blocks that hold no cached prefix (for tests that poison freed memory).</summary>
    public IEnumerable<int> FreeBlockIds()
    {
        for (var n = _available.First; n is not null; n = n.Next)
            if (_hash[n.Value] == 0) yield return n.Value;
    }
}
