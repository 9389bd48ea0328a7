using System.Text;
using Loom.Engine.Structured;
using static Loom.Engine.Tests.Structured.StructuredTestKit;

namespace Loom.Engine.Tests.Structured;

/// <summary>The constraint compiler: GBNF syntax, regexes, choices, JSON schemas, and the errors for what it cannot enforce.</summary>
public class GrammarTests
{
    [Theory]
    [InlineData("root ::= \"ab\" | \"cd\"", "ab", true)]
    [InlineData("root ::= \"ab\" | \"cd\"", "cd", true)]
    [InlineData("root ::= \"ab\" | \"cd\"", "ac", false)]
    [InlineData("root ::= [a-c]+ \"!\"", "abcab!", true)]
    [InlineData("root ::= [a-c]+ \"!\"", "!", false)]
    [InlineData("root ::= [^a-c]", "d", true)]
    [InlineData("root ::= [^a-c]", "é", true)]
    [InlineData("root ::= [^a-c]", "b", false)]
    [InlineData("root ::= \"x\"{2,3}", "xx", true)]
    [InlineData("root ::= \"x\"{2,3}", "xxxx", false)]
    [InlineData("root ::= \"x\"{2,}", "xxxxxx", true)]
    [InlineData("root ::= \"x\"{,2}", "", true)]
    [InlineData("root ::= (\"a\" | \"b\")? \"c\"", "c", true)]
    [InlineData("root ::= \"\\n\\t\\\"\\\\\\x41\\u00e9\"", "\n\t\"\\Aé", true)]
    [InlineData("root ::= . .", "日本", true)]
    [InlineData("root ::= [日-本]", "本", true)]
    [InlineData("root ::= [😀-😂]", "😁", true)]
    [InlineData("root ::= a b\na ::= \"x\" # comment\nb ::= \"y\"", "xy", true)]
    [InlineData("root ::= item (\",\" item)*\nitem ::= [0-9]+", "1,22,333", true)]
    [InlineData("root ::= \"(\" root \")\" | \"x\"", "(((x)))", true)]
    [InlineData("root ::= \"(\" root \")\" | \"x\"", "((x)", false)]
    public void GbnfStrings(string gbnf, string text, bool matches) => Assert.Equal(matches, Matches(gbnf, text));

    [Fact]
    public void A_control_token_is_allowed_only_where_a_grammar_names_it()
    {
        // Token 0 "a", token 1 a control token (its stand-in bytes), token 2 "b", token 3 end of generation.
        var v = new TokenVocabulary([[(byte)'a'], TokenVocabulary.ControlTokenBytes(1), [(byte)'b'], []], [3]);
        var named = Compile(Constraint.Grammar("root ::= \"a\" <[1]> \"b\""), v).NewMatcher();
        var mask = new ulong[1];
        Assert.True(named.AcceptToken(0));
        named.FillMask(mask);
        Assert.Equal(1UL << 1, mask[0]);
        Assert.True(named.AcceptToken(1));
        Assert.True(named.AcceptToken(2));
        Assert.True(named.IsTerminated);
        // Text that could hold any character never holds a control token.
        var text = Compile(Constraint.Grammar("root ::= .*"), v).NewMatcher();
        text.FillMask(mask);
        Assert.Equal((1UL << 0) | (1UL << 2) | (1UL << 3), mask[0]);
        Assert.ThrowsAny<ConstraintException>(() => Grammar("root ::= <[x]>"));
        Assert.ThrowsAny<ConstraintException>(() => Grammar("root ::= <a>"));
    }

    [Fact]
    public void ArithmeticGrammar()
    {
        var g = Grammar(Grammars.Arithmetic);
        Assert.True(Matches(g, "1+2*(3-4)/5"));
        Assert.True(Matches(g, "(1)"));
        Assert.False(Matches(g, "1+"));
        Assert.True(IsPrefix(g, "1+"));
        Assert.False(IsPrefix(g, "1+)"));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("# only a comment", "empty")]
    [InlineData("root ::= foo", "undefined rule 'foo'")]
    [InlineData("rot ::= \"x\"", "no 'root'")]
    [InlineData("root ::= \"x", "unterminated")]
    [InlineData("root ::= root \"x\" | \"y\"", "left-recursive")]
    [InlineData("root ::= a\na ::= b? a \"x\" | \"y\"\nb ::= \"z\"", "left-recursive")]
    [InlineData("root ::= \"a\" root", "matches no string")]
    [InlineData("root ::= [b-a]", "out of order")]
    public void GbnfErrors(string gbnf, string message)
    {
        var e = Assert.ThrowsAny<ConstraintException>(() => Grammar(gbnf));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("[a-z]+@[a-z]+\\.(com|org)", "bob@example.com", true)]
    [InlineData("[a-z]+@[a-z]+\\.(com|org)", "bob@example.net", false)]
    [InlineData("\\d{3}-\\d{4}", "555-1234", true)]
    [InlineData("\\d{3}-\\d{4}", "55-1234", false)]
    [InlineData("^(?:yes|no)$", "no", true)]
    [InlineData("a.c", "a\nc", false)]
    [InlineData("a.c", "aéc", true)]
    [InlineData("[^\\s]+", "x y", false)]
    [InlineData("\\w+\\s\\w+", "hi there", true)]
    [InlineData("(ab)*?c", "ababc", true)]
    [InlineData("\\u00e9\\x41\\.", "éA.", true)]
    public void RegexStrings(string pattern, string text, bool matches) =>
        Assert.Equal(matches, Matches(ConstraintCompiler.ToGbnf(Constraint.Regex(pattern)), text));

    [Theory]
    [InlineData("(a)\\1", "backreference")]
    [InlineData("a(?=b)", "lookaround")]
    [InlineData("\\bword", "\\b")]
    [InlineData("a^b", "^")]
    [InlineData("(?i)abc", "(?")]
    [InlineData("a++", "possessive")]
    public void RegexErrorsNameTheFeature(string pattern, string keyword)
    {
        var e = Assert.Throws<ConstraintException>(() => ConstraintCompiler.ToGbnf(Constraint.Regex(pattern)));
        Assert.Equal(keyword, e.Keyword);
        Assert.Equal("regex", e.ParamName);
    }

    [Fact]
    public void ChoiceMatchesExactlyTheChoices()
    {
        var g = Grammar(ConstraintCompiler.ToGbnf(Constraint.Choice(["red", "green", "re\"d\\"])));
        Assert.True(Matches(g, "red"));
        Assert.True(Matches(g, "green"));
        Assert.True(Matches(g, "re\"d\\"));
        Assert.False(Matches(g, "gree"));
        Assert.True(IsPrefix(g, "gree"));
    }

    [Theory]
    [InlineData("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},\"multipleOf\":3}", "multipleOf")]
    [InlineData("{\"type\":\"array\",\"uniqueItems\":true}", "uniqueItems")]
    [InlineData("{\"type\":\"object\",\"patternProperties\":{}}", "patternProperties")]
    [InlineData("{\"not\":{}}", "not")]
    [InlineData("{\"type\":\"string\",\"format\":\"email\"}", "format")]
    [InlineData("{\"$ref\":\"http://example.com/s.json\"}", "$ref")]
    [InlineData("{\"$ref\":\"#/$defs/missing\"}", "$ref")]
    [InlineData("{\"type\":\"object\",\"required\":[\"x\"],\"properties\":{}}", "required")]
    [InlineData("{\"type\":\"integer\",\"minimum\":5,\"maximum\":4}", "minimum")]
    [InlineData("{\"type\":\"string\",\"minimum\":5}", "minimum")]
    [InlineData("{\"type\":\"string\",\"pattern\":\"(?=x)\"}", "lookaround")]
    [InlineData("{\"allOf\":[{},{}]}", "allOf")]
    [InlineData("false", "false")]
    public void UnsupportedSchemaKeywordsAreNamed(string schema, string keyword)
    {
        var e = Assert.Throws<ConstraintException>(() => ConstraintCompiler.ToGbnf(Constraint.JsonSchema(schema)));
        Assert.Equal(keyword, e.Keyword);
        Assert.Equal("json_schema", e.ParamName);
    }

    [Theory]
    [InlineData("{\"type\":\"integer\",\"minimum\":-15,\"maximum\":123}", -40, 200)]
    [InlineData("{\"type\":\"integer\",\"exclusiveMinimum\":7}", -5, 300)]
    [InlineData("{\"type\":\"integer\",\"maximum\":-3}", -300, 20)]
    [InlineData("{\"type\":\"integer\",\"minimum\":0,\"maximum\":1000}", -5, 1200)]
    public void IntegerBoundsAreExact(string schema, int from, int to)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(schema);
        var s = doc.RootElement;
        long? lo = s.TryGetProperty("minimum", out var a) ? a.GetInt64() : s.TryGetProperty("exclusiveMinimum", out var b) ? b.GetInt64() + 1 : null;
        long? hi = s.TryGetProperty("maximum", out var c) ? c.GetInt64() : null;
        var g = Grammar(ConstraintCompiler.ToGbnf(Constraint.JsonSchema(schema)));
        for (int x = from; x <= to; x++)
        {
            bool inRange = (lo is null || x >= lo) && (hi is null || x <= hi);
            Assert.True(inRange == Matches(g, x.ToString(System.Globalization.CultureInfo.InvariantCulture)), $"{x} in {schema}");
        }
        Assert.False(Matches(g, "007"));
        Assert.False(Matches(g, "-0"));
    }

    [Theory]
    [InlineData("{\"type\":\"number\",\"minimum\":0.25,\"maximum\":3.5}")]
    [InlineData("{\"type\":\"number\",\"exclusiveMinimum\":-1.5,\"exclusiveMaximum\":2}")]
    [InlineData("{\"type\":\"number\",\"minimum\":0.125,\"maximum\":0.25}")]
    [InlineData("{\"type\":\"number\",\"exclusiveMinimum\":0}")]
    [InlineData("{\"type\":\"number\",\"maximum\":-0.5}")]
    [InlineData("{\"type\":\"number\",\"minimum\":-2.05,\"exclusiveMaximum\":-2}")]
    public void NumberBoundsAreExact(string schema)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(schema);
        var s = doc.RootElement;
        decimal? D(string k) => s.TryGetProperty(k, out var v) ? v.GetDecimal() : null;
        decimal? min = D("minimum"), max = D("maximum"), xmin = D("exclusiveMinimum"), xmax = D("exclusiveMaximum");
        var g = Grammar(ConstraintCompiler.ToGbnf(Constraint.JsonSchema(schema)));
        var rng = new Random(5);
        var texts = new List<string>();
        for (int i = -400; i <= 400; i++)
        {
            texts.Add((i / 100m).ToString(System.Globalization.CultureInfo.InvariantCulture));
            texts.Add((i / 1000m).ToString("0.000", System.Globalization.CultureInfo.InvariantCulture));
        }
        for (int i = 0; i < 2000; i++) texts.Add(((decimal)(rng.NextDouble() * 10 - 5)).ToString("0.#####", System.Globalization.CultureInfo.InvariantCulture));
        texts.AddRange(["0", "0.0", "0.25", "0.250", "0.2500001", "0.2499999", "3.5", "3.50", "3.5000001", "2", "2.0", "-2", "-2.0", "-2.05", "-2.050", "-2.0500001", "-1.5", "-1.49", "0.125", "0.1249"]);
        foreach (var text in texts.Distinct())
        {
            if (text.StartsWith("-0") && decimal.Parse(text, System.Globalization.CultureInfo.InvariantCulture) == 0) continue; // "-0": never generated
            var x = decimal.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
            bool inRange = (min is null || x >= min) && (max is null || x <= max) && (xmin is null || x > xmin) && (xmax is null || x < xmax);
            Assert.True(inRange == Matches(g, text), $"{text} for {schema}");
        }
    }

    [Fact]
    public void CompiledConstraintsAreCachedByText()
    {
        var compiler = new ConstraintCompiler(LoadTokenizer(), 512, capacity: 2);
        var a = compiler.Compile(Constraint.Regex("[ab]+"));
        Assert.Same(a, compiler.Compile(Constraint.Regex("[ab]+")));
        compiler.Compile(Constraint.Regex("x"));
        compiler.Compile(Constraint.Regex("y"));
        Assert.Equal(2, compiler.Count);
        Assert.NotSame(a, compiler.Compile(Constraint.Regex("[ab]+")));
        Assert.Throws<ConstraintException>(() => compiler.Compile(Constraint.Regex("(")));
        Assert.Equal(2, compiler.Count);
    }

    private static Loom.Models.Tokenizers.Tokenizer LoadTokenizer()
    {
        using var model = TinyModels.Load();
        return model.Tokenizer;
    }
}

/// <summary>Grammars used across the tests.</summary>
internal static class Grammars
{
    public const string Arithmetic = """
        root ::= expr
        expr ::= term (("+" | "-") term){0,3}
        term ::= factor (("*" | "/") factor){0,2}
        factor ::= number | "(" expr ")"
        number ::= [0-9]{1,4}
        """;

    /// <summary>A tiny imperative language: assignments, prints, if and while blocks.</summary>
    public const string Program = """
        root ::= stmt{1,4}
        stmt ::= (assign | print | if | while) "\n"
        assign ::= ident " = " expr ";"
        print ::= "print(" expr ");"
        if ::= "if (" cond ") {\n" stmt{0,2} "}"
        while ::= "while (" cond ") {\n" stmt{0,2} "}"
        cond ::= expr (" < " | " > " | " == ") expr
        expr ::= atom ((" + " | " - " | " * ") atom){0,3}
        atom ::= ident | [0-9]{1,3} | "(" expr ")"
        ident ::= [a-z] [a-z0-9_]{0,5}
        """;
}
