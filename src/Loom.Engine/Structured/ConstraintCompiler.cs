using System.Diagnostics;
using System.Text;
using Loom.Models.Tokenizers;

namespace Loom.Engine.Structured;

/// <summary>
/// A constraint compiled for one vocabulary: its grammar (as GBNF text and as a byte automaton) and the token mask
/// cache. Immutable; shared by every sequence that uses it, each with its own <see cref="GrammarMatcher"/>.
/// </summary>
public sealed class CompiledConstraint
{
    internal CompiledConstraint(Constraint source, string gbnf, ByteGrammar grammar, TokenVocabulary vocabulary, TokenMaskCache masks, TimeSpan compileTime)
    {
        Source = source;
        Gbnf = gbnf;
        Grammar = grammar;
        Vocabulary = vocabulary;
        Masks = masks;
        CompileTime = compileTime;
    }

    public Constraint Source { get; }

    /// <summary>The grammar the constraint became, in GBNF.</summary>
    public string Gbnf { get; }

    internal ByteGrammar Grammar { get; }
    public TokenVocabulary Vocabulary { get; }
    internal TokenMaskCache Masks { get; }

    /// <summary>Time taken to compile: the grammar, and the masks where they are computed ahead (small vocabularies).</summary>
    public TimeSpan CompileTime { get; }

    /// <summary>Automaton positions (states of all rules).</summary>
    public int PositionCount => Grammar.PositionCount;

    /// <summary>Tokens, summed over the positions whose masks are computed so far, that only the run-time check with the real stack can decide.</summary>
    public long UncertainTokens => Masks.UncertainTotal;

    /// <summary>A matcher at the start of the language.</summary>
    public GrammarMatcher NewMatcher() => new(this);
}

/// <summary>
/// Compiles constraints for one vocabulary and keeps the most recent ones, keyed by the constraint (its kind and
/// text), so a schema sent with every request is compiled once. One per engine: nothing here is process-wide.
/// Thread-safe; compiling happens on the caller's thread (a server's request thread, before the request is queued).
/// </summary>
public sealed class ConstraintCompiler
{
    private readonly Lazy<TokenVocabulary> _vocabulary;
    private readonly object _lock = new();
    private readonly Dictionary<Constraint, LinkedListNode<(Constraint Key, Lazy<CompiledConstraint> Value)>> _cache = [];
    private readonly LinkedList<(Constraint Key, Lazy<CompiledConstraint> Value)> _lru = new();

    public ConstraintCompiler(Tokenizer tokenizer, int logitsSize, int capacity = 64, int maxParallelism = 0)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _vocabulary = new Lazy<TokenVocabulary>(() => new TokenVocabulary(tokenizer, logitsSize));
        Capacity = capacity;
        MaxParallelism = maxParallelism > 0 ? maxParallelism : Environment.ProcessorCount;
    }

    /// <summary>Most compiled constraints kept (least recently used ones are dropped).</summary>
    public int Capacity { get; }

    /// <summary>Threads the mask cache is built on, where it is built ahead.</summary>
    public int MaxParallelism { get; }

    /// <summary>The vocabulary's bytes and trie (built on first use).</summary>
    public TokenVocabulary Vocabulary => _vocabulary.Value;

    /// <summary>Compiled constraints held now.</summary>
    public int Count
    {
        get { lock (_lock) return _cache.Count; }
    }

    /// <summary>
    /// The compiled form of <paramref name="c"/>, from the cache when it was compiled before. Throws
    /// <see cref="ConstraintException"/> when it cannot be compiled (an error is not cached).
    /// </summary>
    public CompiledConstraint Compile(Constraint c)
    {
        ArgumentNullException.ThrowIfNull(c);
        Lazy<CompiledConstraint> entry;
        lock (_lock)
        {
            if (_cache.TryGetValue(c, out var node))
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
                entry = node.Value.Value;
            }
            else
            {
                entry = new Lazy<CompiledConstraint>(() => CompileUncached(c, Vocabulary, MaxParallelism));
                _cache[c] = _lru.AddFirst((c, entry));
            }
        }
        try
        {
            var compiled = entry.Value;
            // Trimmed once this one compiled, so a constraint that fails never pushes a good one out.
            lock (_lock)
                while (_cache.Count > Capacity)
                {
                    var last = _lru.Last!;
                    _lru.RemoveLast();
                    _cache.Remove(last.Value.Key);
                }
            return compiled;
        }
        catch
        {
            lock (_lock)
                if (_cache.TryGetValue(c, out var node) && node.Value.Value == entry) { _lru.Remove(node); _cache.Remove(c); }
            throw;
        }
    }

    /// <summary>
    /// Largest positions × trie nodes whose masks are all computed at compile time (a millisecond or two); past it
    /// each position's mask is computed when a sequence first reaches it (<see cref="TokenMaskCache"/>).
    /// </summary>
    internal const long EagerMaskWork = 1L << 20;

    /// <summary>Compiles without caching.</summary>
    public static CompiledConstraint CompileUncached(Constraint c, TokenVocabulary vocabulary, int maxParallelism = 1)
    {
        var sw = Stopwatch.StartNew();
        string gbnf = ToGbnf(c);
        var ast = GbnfParser.Parse(gbnf, FieldOf(c));
        var grammar = GrammarCompiler.Compile(ast, FieldOf(c));
        var masks = (long)grammar.PositionCount * vocabulary.NodeCount <= EagerMaskWork
            ? TokenMaskCache.Build(grammar, vocabulary, maxParallelism)
            : TokenMaskCache.Lazy(grammar, vocabulary);
        return new CompiledConstraint(c, gbnf, grammar, vocabulary, masks, sw.Elapsed);
    }

    /// <summary>The GBNF grammar a constraint stands for (a grammar constraint is its own text).</summary>
    public static string ToGbnf(Constraint c) => c.Kind switch
    {
        ConstraintKind.Grammar => c.Text,
        ConstraintKind.JsonSchema => JsonSchemaGrammar.ToGbnf(c.Text, FieldOf(c)),
        ConstraintKind.JsonObject => JsonSchemaGrammar.JsonObjectGbnf(),
        ConstraintKind.Regex => "root ::= " + GbnfWriter.Write(RegexParser.Parse(c.Text, FieldOf(c)).Node, jsonString: false) + "\n",
        ConstraintKind.Choice => "root ::= " + string.Join(" | ", c.Choices().Select(GbnfWriter.Literal)) + "\n",
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    private static string FieldOf(Constraint c) => c.Kind switch
    {
        ConstraintKind.Grammar => "grammar",
        ConstraintKind.JsonSchema => "json_schema",
        ConstraintKind.JsonObject => "response_format",
        ConstraintKind.Regex => "regex",
        ConstraintKind.Choice => "choice",
        _ => "constraint",
    };
}
