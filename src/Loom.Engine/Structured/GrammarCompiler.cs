namespace Loom.Engine.Structured;

/// <summary>
/// Lowers a <see cref="GrammarAst"/> to a <see cref="ByteGrammar"/>: each rule reachable from the root becomes a
/// Thompson automaton over bytes and rule references (characters become their UTF-8 byte sequences), then a
/// deterministic one by subset construction, trimmed of states that cannot finish. Rejects what the matcher cannot run:
/// left recursion (directly or through rules that can match nothing), a grammar that matches no string, and automata
/// too large to build.
/// </summary>
internal static class GrammarCompiler
{
    /// <summary>Most deterministic states one rule may have (a regex like <c>(a|b)*a(a|b){20}</c> grows exponentially).</summary>
    public const int MaxStatesPerRule = 50_000;

    /// <summary>Most positions a whole grammar may have.</summary>
    public const int MaxPositions = 200_000;

    // The loops below are marked AggressiveOptimization: a server compiles only a few constraints, too few calls for
    // tiered compilation to promote them, and at tier 0 they took five times as long (18 ms, not 3.5, for the
    // 20-property schema of ConstraintPerformanceTests).

    /// <summary>Largest rule (in estimated automaton states) that is inlined into its callers.</summary>
    public const int InlineLimit = 64;

    public static ByteGrammar Compile(GrammarAst ast, string field)
    {
        ast = Inline(ast);
        // Rules reachable from the root, the root first.
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var names = new List<string>();
        var queue = new Queue<string>();
        if (!ast.Rules.ContainsKey(ast.Root)) throw new ConstraintException($"the grammar has no '{ast.Root}' rule", field, ast.Root);
        index[ast.Root] = 0; names.Add(ast.Root); queue.Enqueue(ast.Root);
        while (queue.Count > 0)
        {
            var name = queue.Dequeue();
            foreach (var r in Refs(ast.Rules[name]))
            {
                if (!ast.Rules.ContainsKey(r)) throw new ConstraintException($"rule '{name}' refers to undefined rule '{r}'", field, r);
                if (index.TryAdd(r, names.Count)) { names.Add(r); queue.Enqueue(r); }
            }
        }

        var dfas = new Dfa[names.Count];
        for (int i = 0; i < names.Count; i++)
        {
            var nfa = new Nfa();
            int start = nfa.NewNode();
            int end = nfa.Build(ast.Rules[names[i]], start, index);
            nfa.FinalList[end] = true;
            dfas[i] = Dfa.FromNfa(nfa, start, names[i], field);
        }

        // Which rules can derive a string at all, and which can derive the empty string.
        var productive = Fixpoint(dfas, (d, known) => d.CanFinish(known, bytesAllowed: true));
        var nullable = Fixpoint(dfas, (d, known) => d.CanFinish(known, bytesAllowed: false));
        if (!productive[0]) throw new ConstraintException("the grammar matches no string (its root can never finish)", field);
        for (int i = 0; i < dfas.Length; i++)
        {
            dfas[i].Trim(productive);
            dfas[i] = dfas[i].Minimize();
        }
        CheckLeftRecursion(dfas, nullable, names, field);
        return Flatten(dfas, names);
    }

    /// <summary>
    /// Replaces references to small rules that are neither recursive nor unbounded (white space, literals, enums,
    /// bounded numbers) by their bodies. A byte inside an inlined rule then belongs to its caller's automaton, where
    /// what follows is known: fewer tokens are left for the run-time check, and fewer positions start a rule whose
    /// caller the mask cache must guess.
    /// </summary>
    internal static GrammarAst Inline(GrammarAst ast)
    {
        var size = new Dictionary<string, int>(StringComparer.Ordinal);
        var visiting = new HashSet<string>(StringComparer.Ordinal);
        // Estimated size of a rule with its inlinable references expanded; int.MaxValue when not inlinable.
        int Size(string name)
        {
            if (size.TryGetValue(name, out int known)) return known;
            if (!visiting.Add(name)) return int.MaxValue; // recursive
            int result = Estimate(ast.Rules[name]);
            visiting.Remove(name);
            size[name] = result;
            return result;
        }
        int Estimate(GNode n)
        {
            long total = n switch
            {
                GLiteral lit => lit.Bytes.Length,
                GChars => 4,
                GRef r => Size(r.Name),
                GSeq seq => seq.Items.Aggregate(0L, (acc, i) => acc + Estimate(i)),
                GAlt alt => alt.Options.Aggregate(1L, (acc, o) => acc + Estimate(o)),
                GRepeat rep => rep.Max < 0 ? int.MaxValue : (long)Estimate(rep.Item) * Math.Max(1, rep.Max),
                _ => int.MaxValue,
            };
            return total > InlineLimit ? int.MaxValue : (int)total;
        }
        foreach (var name in ast.Order) Size(name);
        bool Inlinable(string name) => name != ast.Root && size.GetValueOrDefault(name, int.MaxValue) <= InlineLimit;
        if (!ast.Order.Any(Inlinable)) return ast;
        GNode Expand(GNode n) => n switch
        {
            GRef r when Inlinable(r.Name) => Expand(ast.Rules[r.Name]),
            GSeq seq => new GSeq(seq.Items.Select(Expand).ToArray()),
            GAlt alt => new GAlt(alt.Options.Select(Expand).ToArray()),
            GRepeat rep => new GRepeat(Expand(rep.Item), rep.Min, rep.Max),
            _ => n,
        };
        var result = new GrammarAst { Root = ast.Root };
        foreach (var name in ast.Order) result.Add(name, Expand(ast.Rules[name]));
        return result;
    }

    private static IEnumerable<string> Refs(GNode n)
    {
        switch (n)
        {
            case GRef r: yield return r.Name; break;
            case GSeq s: foreach (var i in s.Items) foreach (var x in Refs(i)) yield return x; break;
            case GAlt a: foreach (var o in a.Options) foreach (var x in Refs(o)) yield return x; break;
            case GRepeat rep: foreach (var x in Refs(rep.Item)) yield return x; break;
        }
    }

    private static bool[] Fixpoint(Dfa[] dfas, Func<Dfa, bool[], bool> test)
    {
        var known = new bool[dfas.Length];
        for (bool changed = true; changed;)
        {
            changed = false;
            for (int i = 0; i < dfas.Length; i++)
                if (!known[i] && test(dfas[i], known)) { known[i] = true; changed = true; }
        }
        return known;
    }

    private static void CheckLeftRecursion(Dfa[] dfas, bool[] nullable, List<string> names, string field)
    {
        // R -> S when S can be entered before R has consumed a byte.
        var leftRefs = dfas.Select(d => d.LeftmostRefs(nullable)).ToArray();
        var color = new byte[dfas.Length]; // 0 new, 1 on stack, 2 done
        var stack = new Stack<(int Rule, int Next)>();
        for (int s = 0; s < dfas.Length; s++)
        {
            if (color[s] != 0) continue;
            stack.Push((s, 0));
            color[s] = 1;
            while (stack.Count > 0)
            {
                var (r, i) = stack.Pop();
                if (i < leftRefs[r].Count)
                {
                    stack.Push((r, i + 1));
                    int t = leftRefs[r][i];
                    if (color[t] == 1)
                        throw new ConstraintException($"rule '{names[t]}' is left-recursive (it can reach itself before consuming input), which the matcher cannot run; rewrite it with repetition", field, names[t]);
                    if (color[t] == 0) { color[t] = 1; stack.Push((t, 0)); }
                }
                else color[r] = 2;
            }
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static ByteGrammar Flatten(Dfa[] dfas, List<string> names)
    {
        var g = new ByteGrammar();
        int total = dfas.Sum(d => d.Count);
        if (total > MaxPositions) throw new ConstraintException($"the grammar compiles to {total} states, more than the {MaxPositions} supported");
        var baseOf = new int[dfas.Length];
        for (int i = 1; i < dfas.Length; i++) baseOf[i] = baseOf[i - 1] + dfas[i - 1].Count;

        // Byte classes: the coarsest partition of 0..255 that every position's edges respect.
        var cuts = new bool[257];
        cuts[0] = cuts[256] = true;
        foreach (var d in dfas)
            foreach (var edges in d.ByteEdges)
                foreach (var (lo, hi, _) in edges) { cuts[lo] = true; cuts[hi + 1] = true; }
        // Refine: two bytes share a class only if every position sends them to the same place. Cut points are enough
        // since each position's edges are intervals.
        int cls = -1;
        for (int b = 0; b < 256; b++)
        {
            if (cuts[b]) cls++;
            g.ClassOf[b] = (byte)cls;
        }
        g.ClassCount = cls + 1;
        var classLo = new int[g.ClassCount];
        for (int b = 255; b >= 0; b--) classLo[g.ClassOf[b]] = b;

        g.Next = new int[total * g.ClassCount];
        Array.Fill(g.Next, -1);
        g.HasBytes = new bool[total];
        g.IsFinal = new bool[total];
        g.RuleOf = new int[total];
        g.RefStart = new int[total + 1];
        var refRule = new List<int>();
        var refTarget = new List<int>();
        var returns = new List<int>[dfas.Length];
        for (int i = 0; i < dfas.Length; i++) returns[i] = [];
        for (int r = 0; r < dfas.Length; r++)
        {
            var d = dfas[r];
            for (int s = 0; s < d.Count; s++)
            {
                int p = baseOf[r] + s;
                g.RuleOf[p] = r;
                g.IsFinal[p] = d.Final[s];
                foreach (var (lo, hi, to) in d.ByteEdges[s])
                {
                    g.HasBytes[p] = true;
                    for (int c = g.ClassOf[lo]; c <= g.ClassOf[hi]; c++) g.Next[p * g.ClassCount + c] = baseOf[r] + to;
                }
                g.RefStart[p] = refRule.Count;
                foreach (var (rule, to) in d.RefEdges[s])
                {
                    refRule.Add(rule);
                    refTarget.Add(baseOf[r] + to);
                    if (!returns[rule].Contains(baseOf[r] + to)) returns[rule].Add(baseOf[r] + to);
                }
            }
        }
        g.RefStart[total] = refRule.Count;
        g.RefRule = [.. refRule];
        g.RefTarget = [.. refTarget];
        g.RuleStart = baseOf;
        g.RuleNames = [.. names];
        g.ReturnSites = returns.Select(l => l.ToArray()).ToArray();
        g.RootRule = 0;
        g.IsSimple = new bool[total];
        for (int p = 0; p < total; p++) g.IsSimple[p] = g.HasBytes[p] && !g.IsFinal[p] && g.RefStart[p] == g.RefStart[p + 1];
        return g;
    }

    /// <summary>A Thompson automaton with byte-range, rule-reference and empty edges.</summary>
    private sealed class Nfa
    {
        public readonly List<List<(byte Lo, byte Hi, int To)>> Bytes = [];
        public readonly List<List<(int Rule, int To)>> RefEdges = [];
        public readonly List<List<int>> Eps = [];
        public readonly List<bool> FinalList = [];
        public int Count => Eps.Count;

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public int NewNode()
        {
            Bytes.Add([]);
            RefEdges.Add([]);
            Eps.Add([]);
            FinalList.Add(false);
            if (Eps.Count > 4 * MaxStatesPerRule) throw new ConstraintException($"a rule is too large to compile (over {4 * MaxStatesPerRule} states)");
            return Eps.Count - 1;
        }

        /// <summary>Adds <paramref name="n"/> starting at node <paramref name="from"/>; returns the node it ends at.</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public int Build(GNode n, int from, Dictionary<string, int> rules)
        {
            switch (n)
            {
                case GLiteral lit:
                {
                    int cur = from;
                    foreach (byte b in lit.Bytes)
                    {
                        int next = NewNode();
                        Bytes[cur].Add((b, b, next));
                        cur = next;
                    }
                    return cur;
                }
                case GChars chars:
                {
                    int end = NewNode();
                    var seqs = new List<(byte Lo, byte Hi)[]>();
                    foreach (var (lo, hi) in chars.Set.Ranges) Utf8Ranges.Split(lo, hi, seqs);
                    foreach (var seq in seqs)
                    {
                        int cur = from;
                        for (int i = 0; i < seq.Length; i++)
                        {
                            int next = i == seq.Length - 1 ? end : NewNode();
                            Bytes[cur].Add((seq[i].Lo, seq[i].Hi, next));
                            cur = next;
                        }
                    }
                    return end;
                }
                case GSeq seq:
                {
                    int cur = from;
                    foreach (var item in seq.Items) cur = Build(item, cur, rules);
                    return cur;
                }
                case GAlt alt:
                {
                    int end = NewNode();
                    foreach (var option in alt.Options)
                    {
                        int start = NewNode();
                        Eps[from].Add(start);
                        Eps[Build(option, start, rules)].Add(end);
                    }
                    return end;
                }
                case GRef r:
                {
                    int next = NewNode();
                    RefEdges[from].Add((rules[r.Name], next));
                    return next;
                }
                case GRepeat rep:
                {
                    int cur = from;
                    for (int i = 0; i < rep.Min; i++) cur = Build(rep.Item, cur, rules);
                    if (rep.Max < 0)
                    {
                        int loop = NewNode();
                        Eps[cur].Add(loop);
                        int start = NewNode();
                        Eps[loop].Add(start);
                        Eps[Build(rep.Item, start, rules)].Add(loop);
                        return loop;
                    }
                    int exit = NewNode();
                    Eps[cur].Add(exit);
                    for (int i = rep.Min; i < rep.Max; i++)
                    {
                        cur = Build(rep.Item, cur, rules);
                        Eps[cur].Add(exit);
                    }
                    return exit;
                }
                default: throw new InvalidOperationException(n.GetType().Name);
            }
        }
    }

    /// <summary>One rule's deterministic automaton: byte intervals and rule references per state.</summary>
    private sealed class Dfa
    {
        public readonly List<List<(byte Lo, byte Hi, int To)>> ByteEdges = [];
        public readonly List<List<(int Rule, int To)>> RefEdges = [];
        public readonly List<bool> Final = [];
        public int Count => Final.Count;

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public static Dfa FromNfa(Nfa nfa, int start, string rule, string field)
        {
            var d = new Dfa();
            var ids = new Dictionary<int[], int>(new SetComparer());
            var work = new Queue<int[]>();
            var visit = new int[nfa.Count];
            int stamp = 0;
            [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
            int[] Closure(IEnumerable<int> seeds)
            {
                stamp++;
                var result = new List<int>();
                var stack = new Stack<int>();
                foreach (int s in seeds) if (visit[s] != stamp) { visit[s] = stamp; stack.Push(s); }
                while (stack.Count > 0)
                {
                    int n = stack.Pop();
                    result.Add(n);
                    foreach (int e in nfa.Eps[n]) if (visit[e] != stamp) { visit[e] = stamp; stack.Push(e); }
                }
                result.Sort();
                return [.. result];
            }
            [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
            int Id(int[] set)
            {
                if (ids.TryGetValue(set, out int id)) return id;
                id = d.Count;
                if (id >= MaxStatesPerRule)
                    throw new ConstraintException($"rule '{rule}' needs more than {MaxStatesPerRule} automaton states (a pattern that repeats an ambiguous part many times); simplify it", field, rule);
                ids[set] = id;
                d.ByteEdges.Add([]);
                d.RefEdges.Add([]);
                d.Final.Add(set.Any(n => nfa.FinalList[n]));
                work.Enqueue(set);
                return id;
            }
            Id(Closure([start]));
            var cuts = new List<int>();
            var targets = new List<int>();
            while (work.Count > 0)
            {
                var set = work.Dequeue();
                int from = ids[set];
                // Bytes: split 0..255 at every edge boundary, then one target set per piece.
                cuts.Clear();
                foreach (int n in set)
                    foreach (var (lo, hi, _) in nfa.Bytes[n]) { cuts.Add(lo); cuts.Add(hi + 1); }
                if (cuts.Count > 0)
                {
                    cuts.Sort();
                    int prevTo = -1, runLo = 0;
                    for (int k = 0; k < cuts.Count; k++)
                    {
                        int lo = cuts[k];
                        if (k + 1 < cuts.Count && cuts[k + 1] == lo) continue;
                        int hi = k + 1 < cuts.Count ? cuts[k + 1] - 1 : -1;
                        if (hi < lo) continue;
                        targets.Clear();
                        foreach (int n in set)
                            foreach (var (elo, ehi, to) in nfa.Bytes[n])
                                if (elo <= lo && hi <= ehi) targets.Add(to);
                        int to2 = targets.Count == 0 ? -1 : Id(Closure(targets));
                        // Merge with the previous interval when contiguous and bound for the same state.
                        var edges = d.ByteEdges[from];
                        if (to2 >= 0 && prevTo == to2 && edges.Count > 0 && edges[^1].Hi + 1 == lo)
                            edges[^1] = (edges[^1].Lo, (byte)hi, to2);
                        else if (to2 >= 0) edges.Add(((byte)lo, (byte)hi, to2));
                        prevTo = to2;
                        runLo = lo;
                    }
                }
                // References: one target set per referenced rule.
                var byRule = new SortedDictionary<int, List<int>>();
                foreach (int n in set)
                    foreach (var (rule2, to) in nfa.RefEdges[n])
                    {
                        if (!byRule.TryGetValue(rule2, out var l)) byRule[rule2] = l = [];
                        l.Add(to);
                    }
                foreach (var (rule2, tos) in byRule) d.RefEdges[from].Add((rule2, Id(Closure(tos))));
            }
            return d;
        }

        /// <summary>Whether the start state reaches a final one, through rules already known (and bytes, when allowed).</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public bool CanFinish(bool[] known, bool bytesAllowed)
        {
            var seen = new bool[Count];
            var stack = new Stack<int>();
            stack.Push(0);
            seen[0] = true;
            while (stack.Count > 0)
            {
                int s = stack.Pop();
                if (Final[s]) return true;
                if (bytesAllowed)
                    foreach (var (_, _, to) in ByteEdges[s]) if (!seen[to]) { seen[to] = true; stack.Push(to); }
                foreach (var (rule, to) in RefEdges[s]) if (known[rule] && !seen[to]) { seen[to] = true; stack.Push(to); }
            }
            return false;
        }

        /// <summary>Drops references to rules that never finish and edges into states that cannot reach the end.</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public void Trim(bool[] productive)
        {
            for (int s = 0; s < Count; s++) RefEdges[s].RemoveAll(e => !productive[e.Rule]);
            // Live: a final state reaches it backwards (one pass over reversed edges).
            var preds = new List<int>[Count];
            for (int s = 0; s < Count; s++) preds[s] = [];
            for (int s = 0; s < Count; s++)
            {
                foreach (var e in ByteEdges[s]) preds[e.To].Add(s);
                foreach (var e in RefEdges[s]) preds[e.To].Add(s);
            }
            var live = new bool[Count];
            var stack = new Stack<int>();
            for (int s = 0; s < Count; s++) if (Final[s]) { live[s] = true; stack.Push(s); }
            while (stack.Count > 0)
                foreach (int p in preds[stack.Pop()])
                    if (!live[p]) { live[p] = true; stack.Push(p); }
            for (int s = 0; s < Count; s++)
            {
                if (!live[s]) { ByteEdges[s].Clear(); RefEdges[s].Clear(); continue; }
                ByteEdges[s].RemoveAll(e => !live[e.To]);
                RefEdges[s].RemoveAll(e => !live[e.To]);
            }
        }

        /// <summary>Most states a rule may have for minimization to be tried (Moore's refinement is quadratic at worst).</summary>
        private const int MinimizeLimit = 4000;

        /// <summary>
        /// The equivalent automaton with the fewest states (Moore's partition refinement over byte intervals and
        /// rule references), keeping only states reachable from the start, the start still state 0. Fewer positions
        /// mean fewer masks to precompute: subset construction leaves loops like <c>char*</c> as several equal states.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public Dfa Minimize()
        {
            // Reachable states, in discovery order (the start first).
            var order = new List<int> { 0 };
            var index = new Dictionary<int, int> { [0] = 0 };
            for (int i = 0; i < order.Count; i++)
            {
                int s = order[i];
                foreach (var (_, _, to) in ByteEdges[s]) if (index.TryAdd(to, order.Count)) order.Add(to);
                foreach (var (_, to) in RefEdges[s]) if (index.TryAdd(to, order.Count)) order.Add(to);
            }
            int n = order.Count;
            if (n > MinimizeLimit) return this;
            // Each state's edges as flat arrays: byte intervals in order, then references, targets as indexes.
            var edgeStart = new int[n + 1];
            var refStart = new int[n + 1];
            var eLo = new List<int>();
            var eHi = new List<int>();
            var eTo = new List<int>();
            var rRule = new List<int>();
            var rTo = new List<int>();
            for (int i = 0; i < n; i++)
            {
                edgeStart[i] = eLo.Count;
                refStart[i] = rRule.Count;
                foreach (var (lo, hi, to) in ByteEdges[order[i]].OrderBy(e => e.Lo)) { eLo.Add(lo); eHi.Add(hi); eTo.Add(index[to]); }
                foreach (var (rule, to) in RefEdges[order[i]]) { rRule.Add(rule); rTo.Add(index[to]); }
            }
            edgeStart[n] = eLo.Count;
            refStart[n] = rRule.Count;
            var block = new int[n];
            for (int i = 0; i < n; i++) block[i] = Final[order[i]] ? 1 : 0;
            // Moore's refinement. Each round a state's signature is its block, its byte intervals with their targets'
            // blocks (adjacent intervals bound for one block merged, so equal transition functions give equal rows
            // however their intervals were cut), then its references' rules and targets' blocks. The rows live in one
            // buffer, hashed as integer runs: string keys, or a row per interval of the whole rule, made the
            // 600-state automaton of a maxLength: 20 string take tens of milliseconds over its ~25 rounds.
            var sig = new int[2 * n + 3 * eLo.Count + 2 * rRule.Count];
            var rowStart = new int[n];
            var rowLength = new int[n];
            var rows = new Dictionary<int, int>(n, new RowComparer(sig, rowStart, rowLength));
            var next = new int[n];
            int blocks = -1;
            while (true)
            {
                rows.Clear();
                int w = 0;
                for (int i = 0; i < n; i++)
                {
                    rowStart[i] = w;
                    sig[w++] = block[i];
                    int first = w;
                    for (int e = edgeStart[i]; e < edgeStart[i + 1]; e++)
                    {
                        int b = block[eTo[e]];
                        if (w > first && sig[w - 1] == b && sig[w - 2] + 1 == eLo[e]) sig[w - 2] = eHi[e];
                        else { sig[w++] = eLo[e]; sig[w++] = eHi[e]; sig[w++] = b; }
                    }
                    sig[w++] = -1;
                    for (int r = refStart[i]; r < refStart[i + 1]; r++) { sig[w++] = rRule[r]; sig[w++] = block[rTo[r]]; }
                    rowLength[i] = w - rowStart[i];
                    if (!rows.TryGetValue(i, out int id)) rows[i] = id = rows.Count;
                    next[i] = id;
                }
                (block, next) = (next, block);
                if (rows.Count == blocks) break;
                blocks = rows.Count;
            }
            if (blocks == Count) return this;
            var m = new Dfa();
            for (int b = 0; b < blocks; b++) { m.ByteEdges.Add([]); m.RefEdges.Add([]); m.Final.Add(false); }
            var done = new bool[blocks];
            for (int i = 0; i < n; i++)
            {
                int b = block[i];
                if (done[b]) continue;
                done[b] = true;
                int s = order[i];
                m.Final[b] = Final[s];
                foreach (var (lo, hi, to) in ByteEdges[s])
                {
                    var edges = m.ByteEdges[b];
                    int tb = block[index[to]];
                    if (edges.Count > 0 && edges[^1].To == tb && edges[^1].Hi + 1 == lo) edges[^1] = (edges[^1].Lo, hi, tb);
                    else edges.Add((lo, hi, tb));
                }
                foreach (var (rule, to) in RefEdges[s]) m.RefEdges[b].Add((rule, block[index[to]]));
            }
            return m;
        }

        /// <summary>Rules referenced before any byte: from the start, through references to rules that can be empty.</summary>
        public List<int> LeftmostRefs(bool[] nullable)
        {
            var result = new List<int>();
            var seen = new bool[Count];
            var stack = new Stack<int>();
            stack.Push(0);
            seen[0] = true;
            while (stack.Count > 0)
            {
                int s = stack.Pop();
                foreach (var (rule, to) in RefEdges[s])
                {
                    if (!result.Contains(rule)) result.Add(rule);
                    if (nullable[rule] && !seen[to]) { seen[to] = true; stack.Push(to); }
                }
            }
            return result;
        }
    }

    /// <summary>Compares rows of a flat signature buffer, named by row index.</summary>
    private sealed class RowComparer(int[] buffer, int[] start, int[] length) : IEqualityComparer<int>
    {
        private ReadOnlySpan<int> Row(int i) => buffer.AsSpan(start[i], length[i]);

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public bool Equals(int x, int y) => Row(x).SequenceEqual(Row(y));

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public int GetHashCode(int row)
        {
            var h = new HashCode();
            h.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Row(row)));
            return h.ToHashCode();
        }
    }

    private sealed class SetComparer : IEqualityComparer<int[]>
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public bool Equals(int[]? x, int[]? y) => x.AsSpan().SequenceEqual(y);

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public int GetHashCode(int[] obj)
        {
            var h = new HashCode();
            foreach (int v in obj) h.Add(v);
            return h.ToHashCode();
        }
    }
}
