using System.Runtime.CompilerServices;

namespace Loom.Engine.Structured;

/// <summary>
/// One sequence's place in a compiled constraint: a pushdown automaton over bytes whose state is a set of stacks.
/// Each stack is a top (a position) over a hash-consed tree of return nodes, so stacks that share a bottom share its
/// nodes and equal stacks are equal pairs. It accepts tokens, computes the mask of the tokens allowed next, and says
/// when the output is complete. Steps are allocation-free once warm: the arrays grow only when an output nests deeper
/// than ever before.
/// </summary>
/// <remarks>
/// Rolling back is part of the design: every byte pushes a frame (the new tops, and the return nodes created for
/// them at the end of the arena), and popping a frame truncates the arena. Mask computation walks candidate tokens
/// depth first and backtracks this way, so tokens that share a prefix are matched once per shared byte; a byte into
/// a position that neither refers to a rule nor ends one costs one table lookup. The same machinery, started in a
/// rule whose caller is unknown, classifies the vocabulary for <see cref="TokenMaskCache"/>.
/// </remarks>
public sealed class GrammarMatcher
{
    internal const int RootBottom = -1;    // below the root rule: the output may end here
    internal const int ContextBottom = -2; // below the rule being classified: its caller is not known
    internal const int OuterBottom = -3;   // below a guessed caller: nothing is known any more

    internal const byte Accepting = 1, EndReached = 2, UnknownHere = 4, UnknownAbove = 8;

    private struct Frame
    {
        public int TopStart, TopEnd, NodeMark;
        public byte Flags;
    }

    private readonly ByteGrammar _g;
    private readonly CompiledConstraint? _constraint;
    // Return nodes: (position to continue at, parent node), hash-consed.
    private int[] _pos, _parent;
    private byte[] _spec;
    private int _count;
    private int[] _table;
    private int _tableMask;
    // Tops of all frames, frame after frame: (position, parent node).
    private int[] _topPos, _topParent;
    private Frame[] _frames;
    private int _depth;
    private int[] _workPos, _workParent;
    private int[] _seenPos, _seenParent;
    private int _seen;
    private int _buildEnd;
    private byte _buildFlags;
    private int[] _gcMap, _gcPos, _gcParent;

    /// <summary>A matcher at the start of <paramref name="constraint"/>.</summary>
    public GrammarMatcher(CompiledConstraint constraint) : this(constraint.Grammar, constraint, frames: constraint.Vocabulary.MaxTokenBytes + 4)
    {
        Reset();
    }

    internal GrammarMatcher(ByteGrammar grammar, CompiledConstraint? constraint, int capacity = 256, int frames = 64)
    {
        _g = grammar;
        _constraint = constraint;
        _pos = new int[capacity];
        _parent = new int[capacity];
        _spec = new byte[capacity];
        _gcMap = new int[capacity];
        _gcPos = new int[capacity];
        _gcParent = new int[capacity];
        _table = new int[capacity * 2];
        _tableMask = _table.Length - 1;
        Array.Fill(_table, -1);
        _topPos = new int[256];
        _topParent = new int[256];
        _frames = new Frame[Math.Max(frames, 8)];
        _workPos = new int[64];
        _workParent = new int[64];
        _seenPos = new int[64];
        _seenParent = new int[64];
    }

    /// <summary>The constraint this matcher follows.</summary>
    public CompiledConstraint Constraint => _constraint ?? throw new InvalidOperationException("a classification matcher has no constraint");

    /// <summary>True when the output so far is a complete string of the language (end-of-generation is allowed).</summary>
    public bool IsAccepting => (_frames[_depth].Flags & Accepting) != 0;

    /// <summary>True when some byte may still follow.</summary>
    public bool CanContinue => _frames[_depth].TopEnd > _frames[_depth].TopStart;

    /// <summary>True when the output is complete and nothing may follow it: the sequence is done.</summary>
    public bool IsTerminated => IsAccepting && !CanContinue;

    /// <summary>Back to the start of the language (nothing generated).</summary>
    public void Reset()
    {
        ClearNodes();
        _depth = 0;
        _buildEnd = 0;
        _buildFlags = 0;
        _seen = 0;
        Settle(_g.RuleStart[_g.RootRule], RootBottom);
        _frames[0] = new Frame { TopStart = 0, TopEnd = _buildEnd, NodeMark = 0, Flags = _buildFlags };
    }

    /// <summary>Starts classification at <paramref name="position"/>, with its rule's caller unknown (<see cref="TokenMaskCache"/>).</summary>
    internal void ResetAtPosition(int position)
    {
        ClearNodes();
        _depth = 0;
        _topPos[0] = position;
        _topParent[0] = ContextBottom;
        _frames[0] = new Frame { TopStart = 0, TopEnd = 1, NodeMark = 0, Flags = 0 };
    }

    /// <summary>Makes this matcher's state a copy of <paramref name="other"/>'s (a forked sequence continues from its parent).</summary>
    public void CopyFrom(GrammarMatcher other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other._g != _g) throw new ArgumentException("the matchers follow different constraints", nameof(other));
        if (other._depth != 0) throw new InvalidOperationException("the matcher is in the middle of a mask computation");
        if (_pos.Length < other._pos.Length) Grow(other._pos.Length);
        int tops = other._frames[0].TopEnd;
        if (_topPos.Length < tops) { Array.Resize(ref _topPos, other._topPos.Length); Array.Resize(ref _topParent, other._topPos.Length); }
        Array.Copy(other._pos, _pos, other._count);
        Array.Copy(other._parent, _parent, other._count);
        Array.Copy(other._spec, _spec, other._count);
        _count = other._count;
        Rehash();
        Array.Copy(other._topPos, _topPos, tops);
        Array.Copy(other._topParent, _topParent, tops);
        _frames[0] = other._frames[0];
        _depth = 0;
    }

    /// <summary>
    /// Advances over <paramref name="token"/>'s bytes. False (and no change) when the constraint does not allow it; an
    /// end-of-generation token is allowed where the output is complete and changes nothing.
    /// </summary>
    public bool AcceptToken(int token)
    {
        var c = Constraint;
        var bytes = c.Vocabulary.Bytes(token);
        if (bytes.IsEmpty) return Array.IndexOf(c.Vocabulary.EndOfGeneration, token) >= 0 && IsAccepting;
        return AcceptBytes(bytes);
    }

    /// <summary>Advances over <paramref name="bytes"/>; false (and no change) when they do not continue a string of the language.</summary>
    public bool AcceptBytes(ReadOnlySpan<byte> bytes)
    {
        if (_depth != 0) throw new InvalidOperationException("the matcher is in the middle of a mask computation");
        foreach (byte b in bytes)
        {
            if (!Advance(b))
            {
                PopTo(0);
                return false;
            }
        }
        Commit();
        return true;
    }

    /// <summary>
    /// Writes the mask of tokens allowed next: bit <c>id % 64</c> of word <c>id / 64</c> is set when token id may be
    /// drawn. Every allowed token keeps the output a prefix of some string of the language; end-of-generation tokens
    /// are allowed only where the output is complete. <paramref name="mask"/> holds at least (vocabulary + 63) / 64 words.
    /// </summary>
    public void FillMask(Span<ulong> mask)
    {
        var c = Constraint;
        var v = c.Vocabulary;
        if (_depth != 0) throw new InvalidOperationException("the matcher is in the middle of a mask computation");
        mask.Clear();
        var f = _frames[0];
        for (int i = f.TopStart; i < f.TopEnd; i++)
        {
            var entry = c.Masks.For(_topPos[i]);
            entry.OrInto(mask);
            if (entry.Uncertain.Length > 0) CheckUncertain(_topPos[i], _topParent[i], entry, v, mask);
        }
        if ((f.Flags & Accepting) != 0)
            foreach (int id in v.EndOfGeneration) mask[id >> 6] |= 1UL << (id & 63);
    }

    /// <summary>Checks, with the real stack below the top, the tokens its position could not decide alone.</summary>
    private void CheckUncertain(int pos, int parent, PositionMask entry, TokenVocabulary v, Span<ulong> mask)
    {
        int start = _frames[0].TopEnd;
        EnsureTops(start + 1);
        _topPos[start] = pos;
        _topParent[start] = parent;
        PushFrame(new Frame { TopStart = start, TopEnd = start + 1, NodeMark = _count, Flags = 0 });
        const int baseDepth = 1;
        int alive = 0;
        var tokens = entry.Uncertain;
        var lcps = entry.UncertainLcp;
        for (int k = 0; k < tokens.Length; k++)
        {
            int lcp = lcps[k];
            // A token sharing more than the bytes that survived with the last one checked fails where it failed.
            if (lcp > alive) continue;
            PopTo(baseDepth + lcp);
            alive = lcp;
            int token = tokens[k];
            var bytes = v.Bytes(token);
            bool ok = true;
            for (int j = lcp; j < bytes.Length; j++)
            {
                if (!Advance(bytes[j])) { ok = false; break; }
                alive++;
            }
            if (ok) mask[token >> 6] |= 1UL << (token & 63);
        }
        PopTo(0);
    }

    // ---- frames -------------------------------------------------------------------------------------------------

    internal int Depth => _depth;

    internal ByteGrammar Grammar => _g;

    /// <summary>Classification scratch of the thread using this matcher (<see cref="TokenMaskCache"/>).</summary>
    internal ClassifyScratch? Scratch;

    internal byte TopFlags => _frames[_depth].Flags;

    /// <summary>Whether the current frame has a top that is not on a guessed caller's stack.</summary>
    internal bool HasCertainTop
    {
        get
        {
            var f = _frames[_depth];
            for (int i = f.TopStart; i < f.TopEnd; i++)
            {
                int parent = _topParent[i];
                if (parent != OuterBottom && (parent < 0 || _spec[parent] == 0)) return true;
            }
            return false;
        }
    }

    /// <summary>Consumes one byte on top of the current frame; false (nothing pushed) when no stack survives it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal bool Advance(byte b)
    {
        ref var f = ref _frames[_depth];
        int topStart = f.TopStart, topEnd = f.TopEnd;
        int mark = _count;
        _buildEnd = topEnd;
        _buildFlags = (f.Flags & (UnknownHere | UnknownAbove)) != 0 ? UnknownAbove : (byte)0;
        _seen = 0;
        var g = _g;
        int cls = g.ClassOf[b], classes = g.ClassCount;
        var next = g.Next;
        var simple = g.IsSimple;
        for (int i = topStart; i < topEnd; i++)
        {
            int to = next[_topPos[i] * classes + cls];
            if (to < 0) continue;
            int parent = _topParent[i];
            if (simple[to])
            {
                // Nothing to push or pop: the byte just moves this top.
                if (topEnd - topStart == 1 || !Seen(to, parent))
                {
                    if (topEnd - topStart > 1) See(to, parent);
                    AddTop(to, parent);
                }
            }
            else Settle(to, parent);
        }
        if (_buildEnd == topEnd && (_buildFlags & (Accepting | EndReached | UnknownHere)) == 0)
        {
            Rollback(mark);
            return false;
        }
        PushFrame(new Frame { TopStart = topEnd, TopEnd = _buildEnd, NodeMark = mark, Flags = _buildFlags });
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AddTop(int pos, int parent)
    {
        if (_buildEnd == _topPos.Length)
        {
            Array.Resize(ref _topPos, _topPos.Length * 2);
            Array.Resize(ref _topParent, _topParent.Length * 2);
        }
        _topPos[_buildEnd] = pos;
        _topParent[_buildEnd++] = parent;
    }

    private bool Seen(int pos, int parent)
    {
        for (int i = 0; i < _seen; i++) if (_seenPos[i] == pos && _seenParent[i] == parent) return true;
        return false;
    }

    private void See(int pos, int parent)
    {
        if (_seen == _seenPos.Length)
        {
            Array.Resize(ref _seenPos, _seen * 2);
            Array.Resize(ref _seenParent, _seen * 2);
        }
        _seenPos[_seen] = pos;
        _seenParent[_seen++] = parent;
    }

    private void PushFrame(Frame frame)
    {
        if (_depth + 1 == _frames.Length) Array.Resize(ref _frames, _frames.Length * 2);
        _frames[++_depth] = frame;
    }

    internal void PopTo(int depth)
    {
        while (_depth > depth)
        {
            Rollback(_frames[_depth].NodeMark);
            _depth--;
        }
    }

    /// <summary>Makes the current frame the committed state (after a token's bytes) and collects unreachable nodes.</summary>
    private void Commit()
    {
        if (_depth == 0) return;
        var f = _frames[_depth];
        int n = f.TopEnd - f.TopStart;
        Array.Copy(_topPos, f.TopStart, _topPos, 0, n);
        Array.Copy(_topParent, f.TopStart, _topParent, 0, n);
        _frames[0] = new Frame { TopStart = 0, TopEnd = n, NodeMark = 0, Flags = (byte)(f.Flags & Accepting) };
        _depth = 0;
        if (_count > _pos.Length / 2) Collect();
    }

    // ---- stacks ---------------------------------------------------------------------------------------------------

    /// <summary>Follows every empty move from (pos, parent): pushes into referenced rules and pops out of finished ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Settle(int startPos, int startParent)
    {
        int w = 0;
        PushWork(ref w, startPos, startParent);
        var g = _g;
        while (w > 0)
        {
            w--;
            int pos = _workPos[w], parent = _workParent[w];
            if (Seen(pos, parent)) continue;
            See(pos, parent);
            if (g.HasBytes[pos]) AddTop(pos, parent);
            for (int k = g.RefStart[pos], end = g.RefStart[pos + 1]; k < end; k++)
            {
                int ret = Cons(g.RefTarget[k], parent);
                PushWork(ref w, g.RuleStart[g.RefRule[k]], ret);
            }
            if (g.IsFinal[pos])
            {
                if (parent >= 0) PushWork(ref w, _pos[parent], _parent[parent]);
                else if (parent == RootBottom) _buildFlags |= Accepting;
                else if (parent == ContextBottom)
                {
                    _buildFlags |= EndReached;
                    foreach (int site in g.ReturnSites[g.RuleOf[pos]]) PushWork(ref w, site, OuterBottom);
                }
                else _buildFlags |= UnknownHere;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PushWork(ref int w, int pos, int parent)
    {
        if (w == _workPos.Length)
        {
            Array.Resize(ref _workPos, w * 2);
            Array.Resize(ref _workParent, w * 2);
        }
        _workPos[w] = pos;
        _workParent[w++] = parent;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Hash(int pos, int parent) => (int)(((uint)pos * 0x9E3779B1u) ^ ((uint)parent * 0x85EBCA77u));

    /// <summary>The return node for (position, parent), created when new.</summary>
    private int Cons(int pos, int parent)
    {
        int h = Hash(pos, parent) & _tableMask;
        while (true)
        {
            int id = _table[h];
            if (id < 0) break;
            if (_pos[id] == pos && _parent[id] == parent) return id;
            h = (h + 1) & _tableMask;
        }
        if (_count == _pos.Length)
        {
            Grow(_pos.Length * 2);
            return Cons(pos, parent);
        }
        int n = _count++;
        _pos[n] = pos;
        _parent[n] = parent;
        _spec[n] = (byte)(parent == OuterBottom || (parent >= 0 && _spec[parent] != 0) ? 1 : 0);
        _table[h] = n;
        return n;
    }

    /// <summary>Deletes the nodes created since <paramref name="mark"/>, newest first (which linear probing allows).</summary>
    private void Rollback(int mark)
    {
        for (int id = _count - 1; id >= mark; id--)
        {
            int h = Hash(_pos[id], _parent[id]) & _tableMask;
            while (_table[h] != id) h = (h + 1) & _tableMask;
            _table[h] = -1;
        }
        _count = mark;
    }

    private void ClearNodes()
    {
        if (_count > 0) Array.Fill(_table, -1);
        _count = 0;
    }

    private void Grow(int capacity)
    {
        Array.Resize(ref _pos, capacity);
        Array.Resize(ref _parent, capacity);
        Array.Resize(ref _spec, capacity);
        _gcMap = new int[capacity];
        _gcPos = new int[capacity];
        _gcParent = new int[capacity];
        _table = new int[capacity * 2];
        _tableMask = _table.Length - 1;
        Rehash();
    }

    private void Rehash()
    {
        Array.Fill(_table, -1);
        for (int id = 0; id < _count; id++)
        {
            int h = Hash(_pos[id], _parent[id]) & _tableMask;
            while (_table[h] >= 0) h = (h + 1) & _tableMask;
            _table[h] = id;
        }
    }

    /// <summary>Keeps only the nodes the committed tops still stand on, renumbered in order (parents stay before children).</summary>
    private void Collect()
    {
        var live = _gcMap;
        Array.Clear(live, 0, _count);
        var f = _frames[0];
        for (int i = f.TopStart; i < f.TopEnd; i++) if (_topParent[i] >= 0) live[_topParent[i]] = 1;
        for (int id = _count - 1; id >= 0; id--)
            if (live[id] != 0 && _parent[id] >= 0) live[_parent[id]] = 1;
        int n = 0;
        for (int id = 0; id < _count; id++)
        {
            if (live[id] == 0) continue;
            live[id] = n + 1;
            int parent = _parent[id];
            _gcPos[n] = _pos[id];
            _gcParent[n] = parent >= 0 ? live[parent] - 1 : parent;
            n++;
        }
        for (int i = f.TopStart; i < f.TopEnd; i++) if (_topParent[i] >= 0) _topParent[i] = live[_topParent[i]] - 1;
        Array.Copy(_gcPos, _pos, n);
        Array.Copy(_gcParent, _parent, n);
        Array.Clear(_spec, 0, n);
        _count = n;
        Rehash();
        // Still much of the arena live: give the next collection room.
        if (_count > _pos.Length / 4) Grow(_pos.Length * 2);
    }

    private void EnsureTops(int size)
    {
        if (_topPos.Length >= size) return;
        int n = Math.Max(size, _topPos.Length * 2);
        Array.Resize(ref _topPos, n);
        Array.Resize(ref _topParent, n);
    }

    /// <summary>Number of return nodes in use (for tests).</summary>
    internal int NodeCount => _count;
}
