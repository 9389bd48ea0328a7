using Loom.Models.ChatTemplates;

namespace Loom.Models.Tests;

/// <summary>Syntax errors with locations, runtime errors, the template's own exceptions, and runaway guards.</summary>
public class ChatTemplateErrorTests
{
    private static readonly ChatMessage[] OneUser = { new("user", "Hi") };

    private static string Render(string template, IReadOnlyDictionary<string, object?>? extra = null) =>
        new ChatTemplate(template).Render(OneUser, addGenerationPrompt: true, extra: extra);

    [Theory]
    [InlineData("{% if true %}open", 1, 18)]                 // missing endif: reported at end of input
    [InlineData("ok\n  {{ 1 + }}", 2, 10)]                  // operand missing before '}}'
    [InlineData("{% for x in xs %}\n{% endif %}", 2, 4)]   // wrong end tag
    [InlineData("a\nb\n{% frobnicate %}", 3, 4)]          // unknown statement
    [InlineData("{{ 'unterminated }}", 1, 4)]
    [InlineData("{{ x", 1, 1)]                               // unterminated output tag
    [InlineData("{# never closed", 1, 1)]
    [InlineData("{{ a $ b }}", 1, 6)]                        // stray character
    [InlineData("{% set %}", 1, 8)]
    [InlineData("{{ f(a=1, 2) }}", 1, 11)]                  // positional after keyword
    [InlineData("{% endfor %}", 1, 4)]
    [InlineData("{{ [1, 2 }}", 1, 10)]
    [InlineData("{% for i in [] %}\n{{ x | nosuchfilter }}{% endfor %}", 2, 8)]   // unknown filter: a parse error, as in Jinja (under an if it is not)
    [InlineData("{{ x is nosuchtest }}", 1, 9)]
    public void SyntaxErrorsCarryLineAndColumn(string template, int line, int column)
    {
        var ex = Assert.Throws<ChatTemplateException>(() => new ChatTemplate(template));
        Assert.Equal((line, column), (ex.Line, ex.Column));
        Assert.Contains($"line {line}, column {column}", ex.Message);
        Assert.False(ex.RaisedByTemplate);
    }

    [Fact]
    public void RaiseExceptionUsesTheTemplatesMessageVerbatim()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => Render("line one\n{{ raise_exception('Only user and assistant roles are supported!') }}"));
        Assert.Equal("Only user and assistant roles are supported!", ex.Message);
        Assert.True(ex.RaisedByTemplate);
        Assert.Null(ex.Line);
    }

    [Fact]
    public void RuntimeErrorsNameTheStatementLocation()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => Render("text\n  {{ 'a' + 1 }}"));
        Assert.Equal(2, ex.Line);
        Assert.Contains("concatenate", ex.Problem);
    }

    [Fact]
    public void RuntimeErrorInsideLoopPointsAtInnermostStatement()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => Render("{% for m in messages %}\n{% set x = m.content | length %}\n{{ x / 0 }}\n{% endfor %}"));
        Assert.Equal(3, ex.Line);
        Assert.Contains("division by zero", ex.Message);
    }

    [Fact]
    public void InfiniteMacroRecursionIsStopped()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => Render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"));
        Assert.Contains("nested deeper", ex.Message);
    }

    [Fact]
    public void HugeRangeIsRefused()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => Render("{% for i in range(100000000000) %}x{% endfor %}"));
        Assert.Contains("range", ex.Message);
    }

    [Fact]
    public void TooManyLoopIterationsAreStopped()
    {
        var ex = Assert.Throws<ChatTemplateException>(() =>
            Render("{% for a in range(2000) %}{% for b in range(2000) %}{% endfor %}{% endfor %}"));
        Assert.Contains("loop iterations", ex.Message);
    }

    [Fact]
    public void ExponentialStringGrowthIsStopped()
    {
        var ex = Assert.Throws<ChatTemplateException>(() =>
            Render("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}"));
        Assert.Contains("longer than", ex.Message);
    }

    [Fact]
    public void ExponentialListGrowthIsStopped()
    {
        var ex = Assert.Throws<ChatTemplateException>(() =>
            Render("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}"));
        Assert.Contains("longer than", ex.Message);
    }

    [Fact]
    public void StringRepetitionIsBounded()
    {
        Assert.Throws<ChatTemplateException>(() => Render("{{ 'x' * 10000000000 }}"));
    }

    [Fact]
    public void DeeplyNestedSourceIsASyntaxErrorNotAStackOverflow()
    {
        string deep = "{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}";
        var ex = Assert.Throws<ChatTemplateException>(() => new ChatTemplate(deep));
        Assert.Contains("nested too deeply", ex.Message);

        string deepIfs = string.Concat(Enumerable.Repeat("{% if true %}", 5000)) + string.Concat(Enumerable.Repeat("{% endif %}", 5000));
        Assert.Throws<ChatTemplateException>(() => new ChatTemplate(deepIfs));

        string deepNot = "{{ " + string.Concat(Enumerable.Repeat("not ", 5000)) + "1 }}";
        Assert.Throws<ChatTemplateException>(() => new ChatTemplate(deepNot));
    }

    [Fact]
    public void ModeratelyNestedSourceStillWorks()
    {
        string nested = "{{ " + new string('(', 50) + "1" + new string(')', 50) + " }}";
        Assert.Equal("1", Render(nested));
    }

    [Fact]
    public void UnsupportedValueInExtraIsReported()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => Render("{{ x }}", new Dictionary<string, object?> { ["x"] = new object() }));
        Assert.Contains("Object", ex.Message);
    }

    [Fact]
    public void SelfReferencingExtraIsRefused()
    {
        var loop = new List<object?>();
        loop.Add(loop);
        Assert.Throws<ChatTemplateException>(() => Render("{{ x }}", new Dictionary<string, object?> { ["x"] = loop }));
    }

    [Fact]
    public void LongOperatorChainsAreBoundedNotAStackOverflow()
    {
        string longSum = "{{ " + string.Join(" + ", Enumerable.Repeat("1", 20000)) + " }}";
        var ex = Assert.Throws<ChatTemplateException>(() => Render(longSum));
        Assert.Contains("nested deeper", ex.Message);

        string longFilters = "{{ 'x'" + string.Concat(Enumerable.Repeat(" | upper", 20000)) + " }}";
        Assert.Throws<ChatTemplateException>(() => Render(longFilters));

        Assert.Equal("300", Render("{{ " + string.Join(" + ", Enumerable.Repeat("1", 300)) + " }}"));
    }

    [Fact]
    public void DeeplyNestedValuesAreBoundedWhenCompared()
    {
        var ex = Assert.Throws<ChatTemplateException>(() =>
            Render("{% set ns = namespace(l=[]) %}{% for i in range(5000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l == ns.l }}"));
        Assert.Contains("nested too deeply", ex.Message);
    }

    [Fact]
    public void SmallThreadStacksGetAnExceptionNotACrash()
    {
        // On a 256 KB stack the limits may not be reachable; running out of stack must still be a clean error.
        string sum = "{{ " + string.Join(" + ", Enumerable.Repeat("1", 990)) + " }}";
        string macro = "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% else %}done{% endif %}{% endmacro %}{{ f(99) }}";
        string nested = "{{ " + new string('(', 190) + "1" + new string(')', 190) + " }}";
        var outcomes = new List<string>();
        var thread = new Thread(() =>
        {
            foreach (var t in new[] { sum, macro, nested })
            {
                try { outcomes.Add(Render(t)); }
                catch (ChatTemplateException ex) { outcomes.Add(ex.Problem); }
            }
        }, 256 * 1024);
        thread.Start();
        thread.Join();
        Assert.Equal(3, outcomes.Count);
        Assert.True(outcomes[0] == "990" || outcomes[0].Contains("too deep"), outcomes[0]);
        Assert.True(outcomes[1] == "done" || outcomes[1].Contains("too deep"), outcomes[1]);
        Assert.True(outcomes[2] == "1" || outcomes[2].Contains("too deep"), outcomes[2]);
    }
}
