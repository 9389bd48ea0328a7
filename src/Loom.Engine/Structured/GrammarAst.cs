using System.Text;

namespace Loom.Engine.Structured;

/// <summary>A grammar expression over characters (encoded as UTF-8 bytes when compiled).</summary>
internal abstract record GNode;

/// <summary>The items one after another.</summary>
internal sealed record GSeq(GNode[] Items) : GNode;

/// <summary>Any one of the options.</summary>
internal sealed record GAlt(GNode[] Options) : GNode;

/// <summary>One character from a set of code points.</summary>
internal sealed record GChars(CodePointSet Set) : GNode;

/// <summary>A fixed byte string (a literal, UTF-8).</summary>
internal sealed record GLiteral(byte[] Bytes) : GNode;

/// <summary>A reference to a named rule.</summary>
internal sealed record GRef(string Name) : GNode;

/// <summary><see cref="Item"/> repeated <see cref="Min"/> to <see cref="Max"/> times (Max -1: unbounded).</summary>
internal sealed record GRepeat(GNode Item, int Min, int Max) : GNode;

/// <summary>A grammar: named rules and the rule it starts at.</summary>
internal sealed class GrammarAst
{
    public Dictionary<string, GNode> Rules { get; } = new(StringComparer.Ordinal);
    public List<string> Order { get; } = [];
    public string Root { get; set; } = "root";

    public void Add(string name, GNode body)
    {
        if (!Rules.TryAdd(name, body)) throw new ConstraintException($"rule '{name}' is defined twice", keyword: name);
        Order.Add(name);
    }

    public static GNode Empty { get; } = new GSeq([]);

    public static GNode Lit(string s) => new GLiteral(Encoding.UTF8.GetBytes(s));
}

/// <summary>A set of Unicode scalar values as sorted, disjoint, non-adjacent ranges (surrogates never included).</summary>
internal sealed class CodePointSet
{
    public const int MaxCodePoint = 0x10FFFF;
    private readonly List<(int Lo, int Hi)> _ranges = [];

    public IReadOnlyList<(int Lo, int Hi)> Ranges => _ranges;

    public static CodePointSet Of(params (int Lo, int Hi)[] ranges)
    {
        var s = new CodePointSet();
        foreach (var (lo, hi) in ranges) s.Add(lo, hi);
        return s;
    }

    public static CodePointSet Any() => Of((0, MaxCodePoint));

    public bool IsEmpty => _ranges.Count == 0;

    public void Add(int lo, int hi)
    {
        if (lo > hi) (lo, hi) = (hi, lo);
        // Surrogates are not characters: drop them.
        if (lo <= 0xDFFF && hi >= 0xD800)
        {
            if (lo < 0xD800) Add(lo, 0xD7FF);
            if (hi > 0xDFFF) Add(0xE000, hi);
            return;
        }
        _ranges.Add((lo, hi));
        Normalize();
    }

    public void Add(CodePointSet other)
    {
        foreach (var (lo, hi) in other._ranges) _ranges.Add((lo, hi));
        Normalize();
    }

    public bool Contains(int cp)
    {
        foreach (var (lo, hi) in _ranges) if (cp >= lo && cp <= hi) return true;
        return false;
    }

    public CodePointSet Complement()
    {
        var c = new CodePointSet();
        int next = 0;
        foreach (var (lo, hi) in _ranges)
        {
            if (lo > next) c.Add(next, lo - 1);
            next = hi + 1;
        }
        if (next <= MaxCodePoint) c.Add(next, MaxCodePoint);
        return c;
    }

    public CodePointSet Minus(CodePointSet other) => Intersect(other.Complement());

    public CodePointSet Intersect(CodePointSet other)
    {
        var r = new CodePointSet();
        foreach (var (a, b) in _ranges)
            foreach (var (c, d) in other._ranges)
            {
                int lo = Math.Max(a, c), hi = Math.Min(b, d);
                if (lo <= hi) r._ranges.Add((lo, hi));
            }
        r.Normalize();
        return r;
    }

    private void Normalize()
    {
        _ranges.Sort((x, y) => x.Lo.CompareTo(y.Lo));
        int w = 0;
        for (int i = 0; i < _ranges.Count; i++)
        {
            var cur = _ranges[i];
            if (w > 0 && cur.Lo <= _ranges[w - 1].Hi + 1)
                _ranges[w - 1] = (_ranges[w - 1].Lo, Math.Max(_ranges[w - 1].Hi, cur.Hi));
            else _ranges[w++] = cur;
        }
        _ranges.RemoveRange(w, _ranges.Count - w);
    }

    public override string ToString() => string.Join(",", _ranges.Select(r => r.Lo == r.Hi ? $"{r.Lo:X}" : $"{r.Lo:X}-{r.Hi:X}"));
}

/// <summary>
/// Splits a range of code points into sequences of byte ranges whose concatenations are exactly the UTF-8 encodings of
/// the range (the construction of RE2 and Rust's utf8-ranges).
/// </summary>
internal static class Utf8Ranges
{
    public static void Split(int lo, int hi, List<(byte Lo, byte Hi)[]> output)
    {
        if (lo > hi) return;
        if (lo <= 0xDFFF && hi >= 0xD800)
        {
            Split(lo, 0xD7FF, output);
            Split(0xE000, hi, output);
            return;
        }
        int[] limits = [0x7F, 0x7FF, 0xFFFF];
        foreach (int limit in limits)
        {
            if (lo <= limit && hi > limit)
            {
                Split(lo, limit, output);
                Split(limit + 1, hi, output);
                return;
            }
        }
        if (hi <= 0x7F)
        {
            output.Add([((byte)lo, (byte)hi)]);
            return;
        }
        int n = hi <= 0x7FF ? 2 : hi <= 0xFFFF ? 3 : 4;
        for (int i = 1; i < n; i++)
        {
            int m = (1 << (6 * i)) - 1;
            if ((lo & ~m) != (hi & ~m))
            {
                if ((lo & m) != 0)
                {
                    Split(lo, lo | m, output);
                    Split((lo | m) + 1, hi, output);
                    return;
                }
                if ((hi & m) != m)
                {
                    Split(lo, (hi & ~m) - 1, output);
                    Split(hi & ~m, hi, output);
                    return;
                }
            }
        }
        Span<byte> a = stackalloc byte[4], b = stackalloc byte[4];
        Encode(lo, a);
        Encode(hi, b);
        var seq = new (byte, byte)[n];
        for (int i = 0; i < n; i++) seq[i] = (a[i], b[i]);
        output.Add(seq);
    }

    private static void Encode(int cp, Span<byte> o)
    {
        if (cp <= 0x7F) o[0] = (byte)cp;
        else if (cp <= 0x7FF) { o[0] = (byte)(0xC0 | (cp >> 6)); o[1] = (byte)(0x80 | (cp & 0x3F)); }
        else if (cp <= 0xFFFF) { o[0] = (byte)(0xE0 | (cp >> 12)); o[1] = (byte)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (byte)(0x80 | (cp & 0x3F)); }
        else { o[0] = (byte)(0xF0 | (cp >> 18)); o[1] = (byte)(0x80 | ((cp >> 12) & 0x3F)); o[2] = (byte)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (byte)(0x80 | (cp & 0x3F)); }
    }
}
