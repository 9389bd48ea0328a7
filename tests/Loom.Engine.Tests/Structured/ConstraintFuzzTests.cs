using System.Diagnostics;
using System.Text;
using Loom.Engine.Structured;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Engine.Tests.Structured;

/// <summary>
/// Constraints come from request bodies, so their parsers see hostile text: mutants of valid grammars, schemas and
/// patterns must each either compile or be refused with a <see cref="ConstraintException"/> (a 400 naming the field),
/// quickly, never with another exception and never hanging.
/// </summary>
public class ConstraintFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] Grammars =
    [
        "root ::= expr\nexpr ::= term ((\"+\" | \"-\") term)*\nterm ::= [0-9]+ | \"(\" expr \")\"\n",
        "root ::= \"{\" ws pair (\",\" ws pair)* \"}\"\npair ::= [a-z]{1,8} \":\" ws [0-9]{1,3}\nws ::= [ \\t\\n]*\n",
        "root ::= stmt+\nstmt ::= \"let \" [a-z]+ \" = \" ( [0-9]+ | \"'\" [^'\\n]* \"'\" ) \";\\n\"\n",
    ];

    private static readonly string[] Schemas =
    [
        """{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":12},"age":{"type":"integer","minimum":0,"maximum":150},"tags":{"type":"array","items":{"enum":["a","b","c"]},"maxItems":3}},"required":["name"],"additionalProperties":false}""",
        """{"$defs":{"node":{"type":"object","properties":{"v":{"type":"number"},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"]}},"$ref":"#/$defs/node"}""",
        """{"oneOf":[{"const":"x"},{"type":"boolean"},{"type":"string","pattern":"^[A-Z][a-z]{2,5}$"}]}""",
    ];

    private static readonly string[] Patterns = [@"[A-Z][a-z]+ \d{1,3}", @"(ab|cd)*e?[^x-z]{2,4}", @"\w+@\w+\.(com|org)"];

    private const string Alphabet = "()[]{}|*+?-^$\\\"':,.#/ \n\tabcxyz0129:=::=anyOf$refminimummaxItemspattern";

    [Fact]
    public void MutatedConstraintsCompileOrAreRefusedQuickly()
    {
        var rng = new Random(FuzzBudget.Seed);
        var box = FuzzBudget.Box(6);
        int cap = FuzzBudget.Cap(4000), runs = 0, refused = 0;
        var slowest = TimeSpan.Zero;
        var total = Stopwatch.StartNew();
        while (total.Elapsed < box && runs < cap)
        {
            int kind = rng.Next(3);
            string seed = kind switch { 0 => Grammars[rng.Next(Grammars.Length)], 1 => Schemas[rng.Next(Schemas.Length)], _ => Patterns[rng.Next(Patterns.Length)] };
            string text = Mutate(seed, rng);
            var c = kind switch { 0 => Constraint.Grammar(text), 1 => Constraint.JsonSchema(text), _ => Constraint.Regex(text) };
            var sw = Stopwatch.StartNew();
            try
            {
                var ast = GbnfParser.Parse(ConstraintCompiler.ToGbnf(c), "fuzz");
                GrammarCompiler.Compile(ast, "fuzz");
            }
            catch (ConstraintException) { refused++; }
            catch (Exception e)
            {
                Assert.Fail($"{c.Kind} {Quote(text)} threw {e.GetType().Name}: {e.Message}");
            }
            if (sw.Elapsed > slowest) slowest = sw.Elapsed;
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"{c.Kind} {Quote(text)} took {sw.Elapsed}");
            runs++;
        }
        output.WriteLine($"{runs} mutants, {refused} refused, slowest {slowest.TotalMilliseconds:F0} ms");
        Assert.True(runs > 100, $"only {runs} mutants ran");
    }

    /// <summary>Patterns whose automata explode are refused, not built.</summary>
    [Theory]
    [InlineData(@"(a|b)*a(a|b){40}")]
    [InlineData(@"((a|b)*c){30}d(a|b){20}")]
    public void ExplodingPatternsAreRefused(string pattern)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            GrammarCompiler.Compile(GbnfParser.Parse(ConstraintCompiler.ToGbnf(Constraint.Regex(pattern)), "regex"), "regex");
        }
        catch (ConstraintException) { }
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
    }

    private static string Mutate(string seed, Random rng)
    {
        var sb = new StringBuilder(seed);
        int edits = 1 + rng.Next(6);
        for (int i = 0; i < edits; i++)
        {
            int at = sb.Length == 0 ? 0 : rng.Next(sb.Length);
            switch (rng.Next(5))
            {
                case 0 when sb.Length > 0: sb.Remove(at, Math.Min(sb.Length - at, 1 + rng.Next(4))); break;
                case 1: sb.Insert(at, Alphabet[rng.Next(Alphabet.Length)]); break;
                case 2 when sb.Length > 0: sb[at] = Alphabet[rng.Next(Alphabet.Length)]; break;
                case 3 when sb.Length > 0:
                    int len = Math.Min(sb.Length - at, 1 + rng.Next(12));
                    sb.Insert(rng.Next(sb.Length), sb.ToString(at, len));
                    break;
                default: sb.Insert(at, (char)rng.Next(0x20, 0x3000)); break;
            }
        }
        return sb.ToString();
    }

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
