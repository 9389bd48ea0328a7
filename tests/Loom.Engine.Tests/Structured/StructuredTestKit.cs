using System.Text;
using Loom.Engine.Structured;

namespace Loom.Engine.Tests.Structured;

/// <summary>Helpers for constraint tests: compile GBNF or constraints against small synthetic vocabularies.</summary>
internal static class StructuredTestKit
{
    public static ByteGrammar Grammar(string gbnf) => GrammarCompiler.Compile(GbnfParser.Parse(gbnf), "grammar");

    /// <summary>Whether the whole of <paramref name="text"/> is a string of the grammar.</summary>
    public static bool Matches(string gbnf, string text) => Matches(Grammar(gbnf), text);

    public static bool Matches(ByteGrammar g, string text)
    {
        var m = new GrammarMatcher(g, null);
        m.Reset();
        return m.AcceptBytes(Encoding.UTF8.GetBytes(text)) && m.IsAccepting;
    }

    public static bool IsPrefix(ByteGrammar g, string text)
    {
        var m = new GrammarMatcher(g, null);
        m.Reset();
        return m.AcceptBytes(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>A vocabulary of the given strings (as UTF-8), with one extra end-of-generation token (empty bytes) at the end.</summary>
    public static TokenVocabulary Vocabulary(IEnumerable<byte[]> tokens)
    {
        var list = tokens.ToList();
        list.Add([]);
        return new TokenVocabulary([.. list], [list.Count - 1]);
    }

    public static CompiledConstraint Compile(Constraint c, TokenVocabulary v, int threads = 1) => ConstraintCompiler.CompileUncached(c, v, threads);

    /// <summary>Every byte, every printable ASCII pair that appears in JSON-ish text, and some multi-byte pieces.</summary>
    public static TokenVocabulary ByteAndPairVocabulary()
    {
        var tokens = new List<byte[]>();
        for (int b = 0; b < 256; b++) tokens.Add([(byte)b]);
        const string alphabet = "{}[]\":, \n-0123456789.eEtrufalsn\\abxyz+*/()=;";
        foreach (char a in alphabet) foreach (char b in alphabet) tokens.Add([(byte)a, (byte)b]);
        foreach (var s in new[] { "true", "false", "null", "\"name\"", "\": ", "\", \"", "\"}", "é", "日本", "😀", "\"é", "  ", "    ", "\n  ", "123", "-1", "0.5", "e+1", "\\u00", "\\n", "let ", "print", "if ", "while" })
            tokens.Add(Encoding.UTF8.GetBytes(s));
        return Vocabulary(tokens);
    }

    public static bool Allowed(ReadOnlySpan<ulong> mask, int id) => (mask[id >> 6] & (1UL << (id & 63))) != 0;
}

/// <summary>
/// The CPU-heavy constraint tests (property walks, real-model generation, a 100k-token vocabulary) run by themselves,
/// after the parallel ones, so they never starve the allocation and timing tests running beside them.
/// </summary>
[CollectionDefinition("structured-heavy", DisableParallelization = true)]
public sealed class StructuredHeavyCollection;
