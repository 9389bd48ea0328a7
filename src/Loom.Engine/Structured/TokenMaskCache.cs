using System.Diagnostics;

namespace Loom.Engine.Structured;

/// <summary>
/// What one position decides about the vocabulary by itself: the tokens it accepts whatever the stack below it (stored
/// as a bitmask when many, a list when few), and the few it cannot decide alone, which the matcher checks against the
/// real stack at run time (sorted by bytes, with each one's common prefix with the one before, for a trie-like walk).
/// Every other token is rejected there in any context.
/// </summary>
internal sealed class PositionMask
{
    public ulong[]? Bits;
    public int[] Ids = [];
    public int[] Uncertain = [];
    public int[] UncertainLcp = [];

    public int AcceptedCount;

    public void OrInto(Span<ulong> mask)
    {
        if (Bits is { } bits)
        {
            for (int i = 0; i < bits.Length; i++) mask[i] |= bits[i];
            return;
        }
        foreach (int id in Ids) mask[id >> 6] |= 1UL << (id & 63);
    }
}

/// <summary>
/// XGrammar's adaptive token mask cache: for every position of the grammar that consumes bytes, the vocabulary split
/// into tokens accepted whatever the caller (the token is consumed inside the position's rule, or the rule ends exactly
/// at its last byte), tokens rejected whatever the caller, and the uncertain rest. Classification walks the token trie
/// once per position with the caller unknown; where the rule ends inside a token, it continues into every place the
/// rule is called from (the union of possible contexts), so a token that no caller could continue is rejected now
/// rather than checked at every step. Only tokens some caller might continue stay uncertain.
/// </summary>
/// <remarks>
/// Masks are computed when a position is first reached (<see cref="For"/>), not all at compile time: a string with
/// <c>maxLength: 20</c> has twenty counted positions that each accept nearly the whole vocabulary, and walking the
/// trie for each of them up front dominated compiling a schema on a 100k-token vocabulary, while a generation
/// visits only the positions its output passes through. A mask, once computed, is published for every sequence and
/// thread (the engine fills masks side by side on its pool); two threads reaching a new position together may both
/// classify it, and the first to publish wins, their results being equal. <see cref="Build"/> computes every mask
/// ahead, for small vocabularies (where it costs little and keeps steps free of that first-visit work) and for tests.
/// </remarks>
internal sealed class TokenMaskCache
{
    private readonly ByteGrammar _g;
    private readonly TokenVocabulary _v;
    private readonly PositionMask?[] _masks;
    // Classification matchers (with their scratch) not in use, so concurrent first visits each get their own.
    private readonly System.Collections.Concurrent.ConcurrentBag<GrammarMatcher> _classifiers = [];

    private TokenMaskCache(ByteGrammar g, TokenVocabulary v)
    {
        _g = g;
        _v = v;
        _masks = new PositionMask?[g.PositionCount];
    }

    /// <summary>A cache that computes each position's mask when first asked for it.</summary>
    public static TokenMaskCache Lazy(ByteGrammar g, TokenVocabulary v) => new(g, v);

    /// <summary>The mask of <paramref name="position"/> (one that consumes bytes), computed now if it is the first ask.</summary>
    public PositionMask For(int position) => Volatile.Read(ref _masks[position]) ?? Compute(position);

    private PositionMask Compute(int position)
    {
        if (!_g.HasBytes[position]) throw new UnreachableException($"no mask for position {position}: no byte leaves it");
        if (!_classifiers.TryTake(out var m)) m = new GrammarMatcher(_g, null);
        try
        {
            var mask = Classify(m, position, _v);
            return Interlocked.CompareExchange(ref _masks[position], mask, null) ?? mask;
        }
        finally
        {
            _classifiers.Add(m);
        }
    }

    /// <summary>Positions whose mask has been computed.</summary>
    public int Count => _masks.Count(m => m is not null);

    /// <summary>Uncertain tokens over the masks computed so far (a measure of the run-time work left).</summary>
    public long UncertainTotal => _masks.Sum(m => (long)(m?.Uncertain.Length ?? 0));

    /// <summary>Classifies the tokens of the subtree at trie node <paramref name="root"/> (at trie depth <paramref name="baseDepth"/> + 1) with the matcher's current state.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void WalkSubtree(GrammarMatcher m, TokenVocabulary v, int root, int baseDepth, ulong[] accepted, List<int> uncertain)
    {
        var sorted = v.Sorted;
        int n = root, end = v.SubtreeEnd[root];
        while (n < end)
        {
            int d = v.Depth[n] - baseDepth;
            m.PopTo(d - 1);
            if (!m.Advance(v.Label[n]))
            {
                // Past a point where the guessed caller ended too, every token in this subtree depends on context.
                if ((m.TopFlags & (GrammarMatcher.UnknownHere | GrammarMatcher.UnknownAbove)) != 0)
                    for (int k = v.TokenStart[n], e = v.TokenStart[v.SubtreeEnd[n]]; k < e; k++) uncertain.Add(sorted[k]);
                n = v.SubtreeEnd[n];
                continue;
            }
            int count = v.EndCount[n];
            if (count > 0)
            {
                bool certain = m.HasCertainTop || (m.TopFlags & GrammarMatcher.EndReached) != 0;
                for (int k = v.TokenStart[n], e = k + count; k < e; k++)
                {
                    if (certain) accepted[sorted[k] >> 6] |= 1UL << (sorted[k] & 63);
                    else uncertain.Add(sorted[k]);
                }
            }
            n++;
        }
        m.PopTo(0);
    }

    /// <summary>A cache with every position's mask computed now, on up to <paramref name="maxParallelism"/> threads.</summary>
    public static TokenMaskCache Build(ByteGrammar g, TokenVocabulary v, int maxParallelism)
    {
        var cache = new TokenMaskCache(g, v);
        cache.ComputeAll(maxParallelism);
        return cache;
    }

    /// <summary>Computes every mask not computed yet.</summary>
    public void ComputeAll(int maxParallelism)
    {
        var positions = Enumerable.Range(0, _g.PositionCount).Where(p => _g.HasBytes[p] && _masks[p] is null).ToArray();
        int threads = Math.Max(1, maxParallelism);
        if (positions.Length < 4 || threads == 1)
        {
            foreach (int p in positions) For(p);
            return;
        }
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(0, positions.Length, Math.Max(1, positions.Length / (8 * threads))), options,
            range => { for (int i = range.Item1; i < range.Item2; i++) For(positions[i]); });
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static PositionMask Classify(GrammarMatcher m, int position, TokenVocabulary v)
    {
        var g = m.Grammar;
        var scratch = m.Scratch ??= new ClassifyScratch(v);
        var accepted = scratch.Accepted;
        System.Array.Clear(accepted);
        var uncertain = scratch.Uncertain;
        uncertain.Clear();
        var sorted = v.Sorted;
        var state = scratch.State;
        state[0] = position;
        int n = 0, nodes = v.NodeCount, classes = g.ClassCount;
        // While every byte so far moved the one top to a simple position, the state is that position alone (its
        // caller still unknown, nothing pushed): a table lookup per trie node. Any other byte hands the subtree to
        // the matcher, started from the position before it.
        while (n < nodes)
        {
            int d = v.Depth[n];
            int from = state[d - 1];
            int to = g.Next[from * classes + g.ClassOf[v.Label[n]]];
            if (to < 0)
            {
                n = v.SubtreeEnd[n];
                continue;
            }
            if (g.IsSimple[to])
            {
                state[d] = to;
                for (int k = v.TokenStart[n], e = k + v.EndCount[n]; k < e; k++) accepted[sorted[k] >> 6] |= 1UL << (sorted[k] & 63);
                n++;
                continue;
            }
            m.ResetAtPosition(from);
            WalkSubtree(m, v, n, d - 1, accepted, uncertain);
            n = v.SubtreeEnd[n];
        }

        // Subtrees were visited in trie order, so the uncertain list is in token-byte order already.
        int acceptedCount = 0;
        foreach (ulong w in accepted) acceptedCount += System.Numerics.BitOperations.PopCount(w);
        var mask = new PositionMask { AcceptedCount = acceptedCount };
        if (acceptedCount * 32L > v.Size) mask.Bits = (ulong[])accepted.Clone();
        else
        {
            var ids = new int[acceptedCount];
            int j = 0;
            for (int w = 0; w < accepted.Length; w++)
                for (ulong bits = accepted[w]; bits != 0; bits &= bits - 1) ids[j++] = w * 64 + System.Numerics.BitOperations.TrailingZeroCount(bits);
            mask.Ids = ids;
        }
        mask.Uncertain = [.. uncertain];
        mask.UncertainLcp = new int[uncertain.Count];
        for (int i = 1; i < uncertain.Count; i++) mask.UncertainLcp[i] = v.CommonPrefix(uncertain[i - 1], uncertain[i]);
        return mask;
    }
}

/// <summary>One classifying thread's working arrays, kept with its matcher.</summary>
internal sealed class ClassifyScratch(TokenVocabulary v)
{
    public readonly ulong[] Accepted = new ulong[(v.Size + 63) / 64];
    public readonly List<int> Uncertain = [];
    public readonly int[] State = new int[v.MaxTokenBytes + 2];
}
