using Loom.Engine.Structured;

namespace Loom.Engine.Tests.Structured;

/// <summary>
/// A deliberately naive reference for the matcher: the grammar's AST flattened to plain BNF over byte ranges and run
/// through an Earley recognizer (with the nullable fix), written independently of the pushdown automaton, the DFA
/// construction and the mask cache. It answers the two questions masks are about: can these bytes still be
/// completed to a string of the language (Earley's correct-prefix property, all nonterminals being productive), and
/// are they one already.
/// </summary>
internal sealed class ReferenceRecognizer
{
    // Symbols: >= 0 nonterminal index; < 0 terminal -(index+1) into _terms.
    private readonly List<List<int[]>> _prods = [];
    private readonly List<(byte Lo, byte Hi)> _terms = [];
    private readonly Dictionary<string, int> _rules = new(StringComparer.Ordinal);
    private bool[] _nullable = [];
    private readonly int _start;

    public ReferenceRecognizer(string gbnf)
    {
        var ast = GbnfParser.Parse(gbnf);
        foreach (var name in ast.Order) Nt(name);
        foreach (var name in ast.Order) _prods[_rules[name]].AddRange(Alternatives(ast.Rules[name]));
        _start = _rules[ast.Root];
        Prune();
        ComputeNullable();
    }

    private int Nt(string name)
    {
        if (_rules.TryGetValue(name, out int id)) return id;
        _rules[name] = id = _prods.Count;
        _prods.Add([]);
        return id;
    }

    private int Fresh()
    {
        _prods.Add([]);
        return _prods.Count - 1;
    }

    private int Term(byte lo, byte hi)
    {
        _terms.Add((lo, hi));
        return -_terms.Count;
    }

    /// <summary>The productions (symbol sequences) of one expression.</summary>
    private List<int[]> Alternatives(GNode n)
    {
        switch (n)
        {
            case GLiteral lit: return [lit.Bytes.Select(b => Term(b, b)).ToArray()];
            case GChars chars:
            {
                var seqs = new List<(byte, byte)[]>();
                foreach (var (lo, hi) in chars.Set.Ranges) Utf8Ranges.Split(lo, hi, seqs);
                return seqs.Select(s => s.Select(r => Term(r.Item1, r.Item2)).ToArray()).ToList();
            }
            case GRef r: return [[_rules[r.Name]]];
            case GAlt alt: return alt.Options.SelectMany(Alternatives).ToList();
            case GSeq seq:
            {
                var result = new List<int[]> { Array.Empty<int>() };
                foreach (var item in seq.Items)
                {
                    int x = Sub(item);
                    result = result.Select(p => p.Append(x).ToArray()).ToList();
                }
                return result;
            }
            case GRepeat rep:
            {
                int item = Sub(rep.Item);
                var seq = new List<int>();
                for (int i = 0; i < rep.Min; i++) seq.Add(item);
                if (rep.Max < 0)
                {
                    // star ::= "" | item star
                    int star = Fresh();
                    _prods[star].Add([]);
                    _prods[star].Add([item, star]);
                    seq.Add(star);
                }
                else
                {
                    // opt_k ::= "" | item opt_{k-1}
                    int tail = -1;
                    for (int k = 0; k < rep.Max - rep.Min; k++)
                    {
                        int opt = Fresh();
                        _prods[opt].Add([]);
                        _prods[opt].Add(tail < 0 ? [item] : [item, tail]);
                        tail = opt;
                    }
                    if (tail >= 0) seq.Add(tail);
                }
                return [[.. seq]];
            }
            default: throw new InvalidOperationException();
        }
    }

    private int Sub(GNode n)
    {
        int nt = Fresh();
        _prods[nt].AddRange(Alternatives(n));
        return nt;
    }

    /// <summary>Removes productions that use nonterminals deriving no string.</summary>
    private void Prune()
    {
        var productive = new bool[_prods.Count];
        for (bool changed = true; changed;)
        {
            changed = false;
            for (int a = 0; a < _prods.Count; a++)
                if (!productive[a] && _prods[a].Any(p => p.All(s => s < 0 || productive[s]))) { productive[a] = changed = true; }
        }
        for (int a = 0; a < _prods.Count; a++) _prods[a].RemoveAll(p => p.Any(s => s >= 0 && !productive[s]));
    }

    private void ComputeNullable()
    {
        _nullable = new bool[_prods.Count];
        for (bool changed = true; changed;)
        {
            changed = false;
            for (int a = 0; a < _prods.Count; a++)
                if (!_nullable[a] && _prods[a].Any(p => p.All(s => s >= 0 && _nullable[s]))) { _nullable[a] = changed = true; }
        }
    }

    /// <summary>(viable prefix, complete string) for <paramref name="input"/>.</summary>
    public (bool Viable, bool Complete) Check(ReadOnlySpan<byte> input)
    {
        var chart = new HashSet<(int A, int P, int Dot, int Origin)>[input.Length + 1];
        for (int i = 0; i <= input.Length; i++) chart[i] = [];
        var startItems = _prods[_start].Select((_, p) => (_start, p, 0, 0));
        foreach (var it in startItems) chart[0].Add(it);
        for (int i = 0; i <= input.Length; i++)
        {
            var work = new Stack<(int, int, int, int)>(chart[i]);
            while (work.Count > 0)
            {
                var (a, p, dot, origin) = work.Pop();
                var rhs = _prods[a][p];
                if (dot == rhs.Length)
                {
                    // Complete.
                    foreach (var (b, q, d2, o2) in chart[origin].ToArray())
                    {
                        var r2 = _prods[b][q];
                        if (d2 < r2.Length && r2[d2] == a && chart[i].Add((b, q, d2 + 1, o2))) work.Push((b, q, d2 + 1, o2));
                    }
                    continue;
                }
                int sym = rhs[dot];
                if (sym >= 0)
                {
                    for (int k = 0; k < _prods[sym].Count; k++)
                        if (chart[i].Add((sym, k, 0, i))) work.Push((sym, k, 0, i));
                    if (_nullable[sym] && chart[i].Add((a, p, dot + 1, origin))) work.Push((a, p, dot + 1, origin));
                }
                else if (i < input.Length)
                {
                    var (lo, hi) = _terms[-sym - 1];
                    if (input[i] >= lo && input[i] <= hi) chart[i + 1].Add((a, p, dot + 1, origin));
                }
            }
            if (i < input.Length && chart[i + 1].Count == 0) return (false, false);
        }
        bool complete = chart[input.Length].Any(it => it.A == _start && it.Origin == 0 && it.Dot == _prods[_start][it.P].Length);
        return (true, complete);
    }
}
