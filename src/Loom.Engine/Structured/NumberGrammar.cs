using System.Globalization;
using System.Numerics;
using System.Text;

namespace Loom.Engine.Structured;

/// <summary>
/// GBNF for numbers within bounds, exactly: integers in a range (canonical decimal, no leading zeros, no <c>-0</c>),
/// and decimals in a range written without an exponent, where the integer part is a range and the fraction digits at
/// either bound are constrained by small digit automata (so <c>minimum: 0.25</c> admits 0.25 and 0.250001 but not
/// 0.2499). Unbounded numbers keep JSON's full syntax with exponents.
/// </summary>
internal static class NumberGrammar
{
    public const string AnyNumber = "(\"-\"? (\"0\" | [1-9] [0-9]*) (\".\" [0-9]+)? ([eE] [-+]? [0-9]+)?)";
    public const string AnyInteger = "(\"-\"? (\"0\" | [1-9] [0-9]*))";

    /// <summary>An integer in [lo, hi] (either may be null: unbounded); null when the range is empty.</summary>
    public static string? Integer(BigInteger? lo, BigInteger? hi)
    {
        if (lo is null && hi is null) return AnyInteger;
        if (lo is { } l0 && hi is { } h0 && l0 > h0) return null;
        var alts = new List<string>();
        // Negative values: magnitudes in [max(1, -hi), -lo].
        if (lo is null || lo < 0)
        {
            BigInteger mLo = hi is { } h && h < -1 ? -h : 1;
            BigInteger? mHi = lo is { } l ? -l : null;
            if (mHi is null || mLo <= mHi) alts.Add("\"-\" " + IntRange(mLo, mHi));
        }
        if (hi is null || hi >= 0)
        {
            BigInteger pLo = lo is { } l && l > 0 ? l : 0;
            if (hi is null || pLo <= hi) alts.Add(IntRange(pLo, hi));
        }
        return alts.Count == 0 ? null : "(" + string.Join(" | ", alts) + ")";
    }

    /// <summary>A number in the range (bounds null when absent); null when the range is empty.</summary>
    public static string? Number(decimal? lo, bool loIncl, decimal? hi, bool hiIncl)
    {
        if (lo is null && hi is null) return AnyNumber;
        if (lo is { } a && hi is { } b && (a > b || (a == b && !(loIncl && hiIncl)))) return null;
        var alts = new List<string>();
        // Negative: magnitude m = -x in (0 or -hi, -lo].
        if (lo is null || lo < 0)
        {
            (decimal v, bool incl) mLo = hi is { } h && h < 0 ? (-h, hiIncl) : (0m, false);
            (decimal v, bool incl)? mHi = lo is { } l ? (-l, loIncl) : null;
            if (NonNegative(mLo, mHi) is { } neg) alts.Add("\"-\" " + neg);
        }
        if (hi is null || hi > 0 || (hi == 0 && hiIncl))
        {
            (decimal v, bool incl) pLo = lo is { } l && l >= 0 ? (l, loIncl) : (0m, true);
            (decimal v, bool incl)? pHi = hi is { } h ? (h, hiIncl) : null;
            if (NonNegative(pLo, pHi) is { } pos) alts.Add(pos);
        }
        return alts.Count == 0 ? null : "(" + string.Join(" | ", alts) + ")";
    }

    /// <summary>Non-negative decimals (no exponent) between the bounds.</summary>
    private static string? NonNegative((decimal v, bool incl) lo, (decimal v, bool incl)? hi)
    {
        var (loI, loF) = Split(lo.v);
        var alts = new List<string>();
        if (hi is null)
        {
            if (Fraction(DigitDfa.Ge(loF, lo.incl)) is { } f) alts.Add(Seq(Literal(loI), f));
            alts.Add(Seq(IntRange(loI + 1, null), AnyFraction));
        }
        else
        {
            var (hiI, hiF) = Split(hi.Value.v);
            if (loI < hiI)
            {
                if (Fraction(DigitDfa.Ge(loF, lo.incl)) is { } f1) alts.Add(Seq(Literal(loI), f1));
                if (loI + 1 <= hiI - 1) alts.Add(Seq(IntRange(loI + 1, hiI - 1), AnyFraction));
                if (Fraction(DigitDfa.Le(hiF, hi.Value.incl)) is { } f2) alts.Add(Seq(Literal(hiI), f2));
            }
            else if (loI == hiI)
            {
                if (Fraction(DigitDfa.Product(DigitDfa.Ge(loF, lo.incl), DigitDfa.Le(hiF, hi.Value.incl))) is { } f) alts.Add(Seq(Literal(loI), f));
            }
        }
        return alts.Count == 0 ? null : "(" + string.Join(" | ", alts) + ")";
    }

    private const string AnyFraction = "(\".\" [0-9]+)?";

    private static string Seq(string a, string b) => b.Length == 0 ? a : a + " " + b;

    private static string Literal(BigInteger i) => "\"" + i.ToString(CultureInfo.InvariantCulture) + "\"";

    /// <summary>Integer part and fraction digits (no trailing zeros) of a non-negative decimal.</summary>
    private static (BigInteger I, string F) Split(decimal v)
    {
        var s = v.ToString(CultureInfo.InvariantCulture);
        int dot = s.IndexOf('.');
        if (dot < 0) return (BigInteger.Parse(s, CultureInfo.InvariantCulture), "");
        return (BigInteger.Parse(s[..dot], CultureInfo.InvariantCulture), s[(dot + 1)..].TrimEnd('0'));
    }

    /// <summary>Canonical decimal integers in [a, b] (b null: unbounded), a ≥ 0.</summary>
    public static string IntRange(BigInteger a, BigInteger? b)
    {
        if (a < 0) throw new ArgumentOutOfRangeException(nameof(a));
        var alts = new List<string>();
        string sa = a.ToString(CultureInfo.InvariantCulture);
        if (b is null)
        {
            alts.Add(SameLength(sa, new string('9', sa.Length)));
            alts.Add($"[1-9] [0-9]{{{sa.Length},}}");
        }
        else
        {
            string sb = b.Value.ToString(CultureInfo.InvariantCulture);
            for (int len = sa.Length; len <= sb.Length; len++)
            {
                string lo = len == sa.Length ? sa : "1" + new string('0', len - 1);
                string hi = len == sb.Length ? sb : new string('9', len);
                alts.Add(SameLength(lo, hi));
            }
        }
        return alts.Count == 1 ? alts[0] : "(" + string.Join(" | ", alts) + ")";
    }

    private static string Digits(int n) => n == 0 ? "" : n == 1 ? "[0-9]" : $"[0-9]{{{n}}}";

    private static string Range(char lo, char hi) => lo == hi ? $"\"{lo}\"" : $"[{lo}-{hi}]";

    /// <summary>Digit strings of one length between lo and hi (lo ≤ hi).</summary>
    private static string SameLength(string lo, string hi)
    {
        if (lo.Length == 0) return "\"\"";
        if (lo == hi) return "\"" + lo + "\"";
        if (lo[0] == hi[0]) return "\"" + lo[0] + "\" " + SameLength(lo[1..], hi[1..]);
        int rest = lo.Length - 1;
        bool loZeros = lo.AsSpan(1).IndexOfAnyExcept('0') < 0;
        bool hiNines = hi.AsSpan(1).IndexOfAnyExcept('9') < 0;
        var parts = new List<string>();
        char midLo = loZeros ? lo[0] : (char)(lo[0] + 1);
        char midHi = hiNines ? hi[0] : (char)(hi[0] - 1);
        if (!loZeros) parts.Add("\"" + lo[0] + "\" " + SameLength(lo[1..], new string('9', rest)));
        if (midLo <= midHi) parts.Add((Range(midLo, midHi) + " " + Digits(rest)).TrimEnd());
        if (!hiNines) parts.Add("\"" + hi[0] + "\" " + SameLength(new string('0', rest), hi[1..]));
        return parts.Count == 1 ? parts[0] : "(" + string.Join(" | ", parts) + ")";
    }

    /// <summary>The optional fraction (<c>.digits</c>) whose digits the automaton accepts (no fraction: the start accepts); null when none.</summary>
    private static string? Fraction(DigitDfa d)
    {
        var live = d.Live();
        if (!live[d.Start]) return null;
        // Each state as an inline expression would repeat; write it as nested groups, states being few and acyclic
        // except for self-loops.
        string? digits = d.Expression(d.Start, live, requireDigit: true);
        bool empty = d.Accept[d.Start];
        if (digits is null) return empty ? "" : null;
        return empty ? $"(\".\" {digits})?" : $"\".\" {digits}";
    }

    /// <summary>An automaton over fraction digits (value 0.d1d2…); small, with self-loops as the only cycles.</summary>
    internal sealed class DigitDfa
    {
        public readonly List<int[]> Next = [];
        public readonly List<bool> Accept = [];
        public int Start;

        private int Add(bool accept)
        {
            var n = new int[10];
            Array.Fill(n, -1);
            Next.Add(n);
            Accept.Add(accept);
            return Next.Count - 1;
        }

        /// <summary>0.F ≥ 0.D (or &gt; when not inclusive); D has no trailing zeros.</summary>
        public static DigitDfa Ge(string d, bool incl)
        {
            var a = new DigitDfa();
            int k = d.Length;
            var eq = new int[k + 1];
            for (int i = 0; i <= k; i++) eq[i] = a.Add(i == k && incl);
            int greater = a.Add(true);
            for (int c = 0; c < 10; c++) a.Next[greater][c] = greater;
            for (int i = 0; i < k; i++)
                for (int c = 0; c < 10; c++)
                {
                    int di = d[i] - '0';
                    a.Next[eq[i]][c] = c > di ? greater : c == di ? eq[i + 1] : -1;
                }
            for (int c = 0; c < 10; c++) a.Next[eq[k]][c] = incl || c > 0 ? greater : eq[k];
            a.Start = eq[0];
            return a;
        }

        /// <summary>0.F ≤ 0.D (or &lt; when not inclusive); D has no trailing zeros.</summary>
        public static DigitDfa Le(string d, bool incl)
        {
            var a = new DigitDfa();
            int k = d.Length;
            var eq = new int[k + 1];
            for (int i = 0; i <= k; i++) eq[i] = a.Add(i < k || incl);
            int less = a.Add(true);
            for (int c = 0; c < 10; c++) a.Next[less][c] = less;
            for (int i = 0; i < k; i++)
                for (int c = 0; c < 10; c++)
                {
                    int di = d[i] - '0';
                    a.Next[eq[i]][c] = c < di ? less : c == di ? eq[i + 1] : -1;
                }
            // Equal so far: only zeros may follow, and only inclusive bounds accept equality.
            for (int c = 0; c < 10; c++) a.Next[eq[k]][c] = c == 0 && incl ? eq[k] : -1;
            a.Start = eq[0];
            return a;
        }

        public static DigitDfa Product(DigitDfa x, DigitDfa y)
        {
            var p = new DigitDfa();
            var ids = new Dictionary<(int, int), int>();
            var work = new Queue<(int, int)>();
            int Id(int a, int b)
            {
                if (ids.TryGetValue((a, b), out int id)) return id;
                id = p.Add(x.Accept[a] && y.Accept[b]);
                ids[(a, b)] = id;
                work.Enqueue((a, b));
                return id;
            }
            p.Start = Id(x.Start, y.Start);
            while (work.Count > 0)
            {
                var (a, b) = work.Dequeue();
                int from = ids[(a, b)];
                for (int c = 0; c < 10; c++)
                {
                    int na = x.Next[a][c], nb = y.Next[b][c];
                    p.Next[from][c] = na < 0 || nb < 0 ? -1 : Id(na, nb);
                }
            }
            return p;
        }

        public bool[] Live()
        {
            var live = new bool[Next.Count];
            for (bool changed = true; changed;)
            {
                changed = false;
                for (int s = 0; s < Next.Count; s++)
                {
                    if (live[s]) continue;
                    if (Accept[s] || Next[s].Any(t => t >= 0 && live[t])) { live[s] = true; changed = true; }
                }
            }
            return live;
        }

        /// <summary>
        /// The digit strings from state <paramref name="s"/> to acceptance as a GBNF expression (at least one digit
        /// when <paramref name="requireDigit"/>); null when there are none.
        /// </summary>
        public string? Expression(int s, bool[] live, bool requireDigit)
        {
            var self = new StringBuilder();
            var groups = new SortedDictionary<int, StringBuilder>();
            for (int c = 0; c < 10; c++)
            {
                int t = Next[s][c];
                if (t < 0 || !live[t]) continue;
                if (t == s) self.Append((char)('0' + c));
                else
                {
                    if (!groups.TryGetValue(t, out var g)) groups[t] = g = new StringBuilder();
                    g.Append((char)('0' + c));
                }
            }
            // A self-loop on every live digit with acceptance: any digits.
            var exits = new List<string>();
            foreach (var (t, g) in groups)
            {
                var rest = Expression(t, live, requireDigit: false);
                if (rest is null) continue;
                exits.Add((Class(g.ToString()) + " " + rest).TrimEnd());
            }
            string loop = self.Length > 0 ? Class(self.ToString()) + "*" : "";
            var options = new List<string>(exits);
            if (Accept[s] && !requireDigit) options.Add("\"\"");
            if (Accept[s] && requireDigit && self.Length > 0) options.Add(Class(self.ToString()));
            if (options.Count == 0) return null;
            string body = options.Count == 1 ? options[0] : "(" + string.Join(" | ", options) + ")";
            if (loop.Length == 0) return body;
            // Digits that stay here, then one way out (or acceptance here).
            if (requireDigit && Accept[s])
            {
                // At least one digit: either some looping digits, or an exit.
                var exitBody = exits.Count == 0 ? null : exits.Count == 1 ? exits[0] : "(" + string.Join(" | ", exits) + ")";
                string oneLoop = Class(self.ToString()) + "+";
                return exitBody is null ? oneLoop : $"({loop} {exitBody} | {oneLoop})";
            }
            return $"{loop} {body}";
        }

        private static string Class(string digits) => digits.Length == 1 ? "\"" + digits + "\"" : "[" + digits + "]";
    }
}
