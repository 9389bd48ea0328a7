using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Loom.Engine.Structured;
using static Loom.Engine.Tests.Structured.StructuredTestKit;

namespace Loom.Engine.Tests.Structured;

/// <summary>
/// Masks are exact. Along random walks through random grammars (and a fixed suite: JSON schemas, arithmetic, a small
/// language), over random vocabularies (multi-byte tokens, tokens that split UTF-8 characters, tokens spanning rule
/// boundaries), every token the mask allows leads to a prefix that a reference Earley recognizer says can still be
/// completed, every token it forbids leads to one that cannot, and end-of-generation is allowed exactly where the
/// output is complete.
/// </summary>
[Collection("structured-heavy")]
public class MaskExactnessTests
{
    private static readonly string[] Suite =
    [
        Grammars.Arithmetic,
        Grammars.Program,
        ConstraintCompiler.ToGbnf(Constraint.JsonObject()),
        ConstraintCompiler.ToGbnf(Constraint.JsonSchema(Schemas.Person)),
        ConstraintCompiler.ToGbnf(Constraint.JsonSchema(Schemas.Tree)),
        ConstraintCompiler.ToGbnf(Constraint.JsonSchema(Schemas.Optionals)),
        ConstraintCompiler.ToGbnf(Constraint.Regex("(ab|a)*b?[0-9]{2,4}(é|日)")),
        ConstraintCompiler.ToGbnf(Constraint.Choice(["yes", "yesterday", "no", "nö"])),
        "root ::= a* b\na ::= \"x\" | \"\"\nb ::= \"y\" a",   // nullable loops
        "root ::= (\"a\" root \"b\")?",                         // nullable recursion
        "root ::= x x\nx ::= [ab]* \"a\"",                     // ambiguity
    ];

    /// <summary>Bytes that occur in the grammars, so random tokens hit them often.</summary>
    private const string Alphabet = "ab xy{}[]\":,-0123456789.e\n+*()=;<trufalsnoéüé日😀\\";

    private static Gen<string> RandomGrammar =>
        from depth in Gen.Choose(1, 3)
        from body in Expr(depth)
        from second in Expr(2)
        select $"root ::= {body}\nr ::= {second}\n";

    private static Gen<string> Expr(int depth)
    {
        var atoms = Gen.OneOf(
            Gen.Elements("\"a\"", "\"ab\"", "\"é\"", "\"日\"", "[a-c]", "[^a]", "[0-9]", "\"xy\"", "\"\"", "\" \""),
            Gen.Constant(depth > 1 ? "\"(\" r \")\"" : "\"z\""));
        if (depth == 0) return atoms;
        var sub = Expr(depth - 1);
        return Gen.OneOf(
            atoms,
            from a in sub from b in sub select $"{a} {b}",
            from a in sub from b in sub select $"({a} | {b})",
            from a in sub from op in Gen.Elements("*", "+", "?", "{1,3}", "{2}") select $"({a}){op}");
    }

    private static Gen<byte[][]> RandomTokens =>
        Gen.ArrayOf(Gen.Choose(1, 4).SelectMany(len => Gen.ArrayOf(Gen.Elements(Encoding.UTF8.GetBytes(Alphabet)), len)))
           .Select(ts => ts.Where(t => t.Length > 0).ToArray());

    [Fact]
    public void MasksAreExactOnTheSuite()
    {
        var config = Config.QuickThrowOnFailure.WithMaxTest(Suite.Length * 6).WithEndSize(40);
        Check.One(config, Prop.ForAll(Arb.From(
            from g in Gen.Elements(Suite)
            from tokens in RandomTokens
            from seed in Gen.Choose(0, 1 << 20)
            select (g, tokens, seed)), t => Walk(t.g, t.tokens, t.seed)));
    }

    [Fact]
    public void MasksAreExactOnRandomGrammars()
    {
        var config = Config.QuickThrowOnFailure.WithMaxTest(150).WithEndSize(30);
        Check.One(config, Prop.ForAll(Arb.From(
            from g in RandomGrammar
            from tokens in RandomTokens
            from seed in Gen.Choose(0, 1 << 20)
            select (g, tokens, seed)), t => Walk(t.g, t.tokens, t.seed)));
    }

    /// <summary>A random walk: at each step every token's mask bit is checked against the reference, then an allowed one is taken.</summary>
    private static void Walk(string gbnf, byte[][] randomTokens, int seed)
    {
        ByteGrammar grammar;
        try { grammar = Grammar(gbnf); }
        catch (ConstraintException) { return; } // left recursion, empty language: nothing to check
        var reference = new ReferenceRecognizer(gbnf);
        // Every single byte too, so a walk never gets stuck where the grammar still goes on.
        var tokens = randomTokens.Concat(Enumerable.Range(0, 256).Select(b => new[] { (byte)b })).ToArray();
        var v = Vocabulary(tokens);
        // Half the walks compute masks ahead, half on first visit.
        var masks = seed % 2 == 0 ? TokenMaskCache.Build(grammar, v, 1) : TokenMaskCache.Lazy(grammar, v);
        var compiled = new CompiledConstraint(Constraint.Grammar(gbnf), gbnf, grammar, v, masks, TimeSpan.Zero);
        var m = compiled.NewMatcher();
        var rng = new Random(seed);
        var prefix = new List<byte>();
        var mask = new ulong[(v.Size + 63) / 64];
        int eos = v.Size - 1;
        for (int step = 0; step < 12; step++)
        {
            m.FillMask(mask);
            var allowed = new List<int>();
            for (int id = 0; id < v.Size; id++)
            {
                bool bit = Allowed(mask, id);
                if (id == eos)
                {
                    bool complete = reference.Check(prefix.ToArray()).Complete;
                    Assert.True(complete == bit, $"EOS allowed={bit} but complete={complete} after '{Show(prefix)}' in\n{gbnf}");
                    Assert.Equal(complete, m.IsAccepting);
                    continue;
                }
                var candidate = prefix.Concat(v.Bytes(id).ToArray()).ToArray();
                bool viable = reference.Check(candidate).Viable;
                Assert.True(viable == bit, $"token '{Show(v.Bytes(id).ToArray())}' allowed={bit} but viable={viable} after '{Show(prefix)}' in\n{gbnf}");
                if (bit) allowed.Add(id);
            }
            Assert.Equal(m.IsTerminated, allowed.Count == 0 && m.IsAccepting);
            if (allowed.Count == 0) break;
            int pick = allowed[rng.Next(allowed.Count)];
            Assert.True(m.AcceptToken(pick));
            prefix.AddRange(v.Bytes(pick).ToArray());
        }
    }

    private static string Show(IEnumerable<byte> bytes) => string.Concat(bytes.Select(b => b is >= 0x20 and < 0x7F ? ((char)b).ToString() : $"\\x{b:X2}"));
}

/// <summary>JSON schemas used across the tests.</summary>
internal static class Schemas
{
    public const string Person = """
        {"type":"object","properties":{
          "name":{"type":"string","minLength":1,"maxLength":12},
          "age":{"type":"integer","minimum":0,"maximum":150},
          "email":{"type":"string","pattern":"^[a-z]{1,8}@[a-z]{1,8}\\.(com|org)$"},
          "tags":{"type":"array","items":{"type":"string","maxLength":6},"maxItems":3},
          "role":{"enum":["admin","user",null,3]},
          "score":{"type":"number","minimum":-1.5,"exclusiveMaximum":10},
          "active":{"type":"boolean"},
          "quote":{"type":"string","maxLength":8}
        },"required":["name","age","role","active"],"additionalProperties":false}
        """;

    public const string Tree = """
        {"$defs":{"node":{"type":"object","properties":{
            "value":{"type":"integer","minimum":-9,"maximum":99},
            "children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}
          },"required":["value"],"additionalProperties":false}},
         "$ref":"#/$defs/node"}
        """;

    public const string Optionals = """
        {"type":"object","properties":{
          "a":{"type":"null"},"b":{"const":"bé\"\\"},"c":{"type":["integer","null"],"exclusiveMinimum":5,"maximum":8},
          "d":{"anyOf":[{"type":"string","format":"date"},{"type":"array","prefixItems":[{"type":"boolean"},{"type":"number","maximum":1}],"items":false,"minItems":1}]}
        },"additionalProperties":{"type":"integer","minimum":0,"maximum":9}}
        """;
}
