using Loom.Models.ChatTemplates;

namespace Loom.Models.Tests;

/// <summary>The public API's contract, and the deliberate additions to stock Jinja.</summary>
public class ChatTemplateApiTests
{
    private static string Render(string template, IReadOnlyDictionary<string, object?>? extra = null) =>
        new ChatTemplate(template).Render(new[] { new ChatMessage("user", "Hi") }, true, extra: extra);

    [Fact]
    public void ContextVariablesArePassed()
    {
        var t = new ChatTemplate("{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ messages | length }}|{{ messages[0].role }}:{{ messages[0]['content'] }}");
        Assert.Equal("<s>|</s>|False|1|user:Hi", t.Render(new[] { new ChatMessage("user", "Hi") }, false, "<s>", "</s>"));
    }

    [Fact]
    public void MissingSpecialTokensRenderEmptyAndStayStrings()
    {
        Assert.Equal("[]|True", Render("[{{ bos_token + eos_token }}]|{{ bos_token is string }}"));
    }

    [Fact]
    public void ToolsAndDocumentsAreNoneByDefaultLikeTransformers()
    {
        Assert.Equal("True True True", Render("{{ tools is defined }} {{ tools is none }} {{ documents is none }}"));
    }

    [Fact]
    public void ExtraOverridesAndAddsVariables()
    {
        var extra = new Dictionary<string, object?>
        {
            ["bos_token"] = "B",
            ["flag"] = true,
            ["count"] = 3,
            ["ratio"] = 0.5f,
            ["items"] = new[] { "x", "y" },
            ["map"] = new Dictionary<string, object?> { ["k"] = new List<object?> { 1, null } },
        };
        Assert.Equal("B|True|4|0.5|x,y|[1, None]", Render("{{ bos_token }}|{{ flag }}|{{ count + 1 }}|{{ ratio }}|{{ items | join(',') }}|{{ map.k }}", extra));
    }

    [Fact]
    public void ParsesOnceRendersMany()
    {
        var t = new ChatTemplate("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}");
        Assert.Equal("1", t.Render(new[] { new ChatMessage("user", "a") }, false));
        Assert.Equal("2", t.Render(new[] { new ChatMessage("user", "a"), new ChatMessage("assistant", "b") }, false));
        Assert.Equal("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", t.Source);
    }

    [Fact]
    public void RendersConcurrently()
    {
        var t = ChatTemplateFixtureTests.Load("qwen2.5");
        var expected = t.Render(ChatTemplateFixtureTests.Conversation(true), true);
        Parallel.For(0, 64, _ => Assert.Equal(expected, t.Render(ChatTemplateFixtureTests.Conversation(true), true)));
    }

    [Fact]
    public void StrftimeNowUsesTheClock()
    {
        var t = new ChatTemplate("{{ strftime_now('%d %b %Y') }}") { Clock = () => new DateTime(2025, 3, 4) };
        Assert.Equal("04 Mar 2025", t.Render(Array.Empty<ChatMessage>(), false));
    }

    // Additions to stock Jinja: attributes of undefined are undefined (stock Jinja raises), as the brief asks.
    [Fact]
    public void UndefinedChainsStayUndefined()
    {
        Assert.Equal("[]|False|True", Render("[{{ nothing.a.b }}]|{{ nothing.a.b is defined }}|{{ messages[0].x.y is undefined }}"));
    }

    [Fact]
    public void StringFiltersBeyondJinja()
    {
        Assert.Equal("[a b]|[a b ]|[ a b]|['a', 'b']|['x', 'y']", Render("[{{ ' a b ' | strip }}]|[{{ ' a b ' | lstrip }}]|[{{ ' a b ' | rstrip }}]|{{ 'a b' | split }}|{{ 'x;y' | split(';') }}"));
    }

    [Fact]
    public void KeysAndValuesFilters()
    {
        Assert.Equal("['a', 'b']|[1, 2]", Render("{% set d = {'a': 1, 'b': 2} %}{{ d | keys }}|{{ d | values }}"));
    }

    [Fact]
    public void GenerationBlockRendersItsBody()
    {
        // transformers registers {% generation %} for assistant masks; it does not change the text.
        Assert.Equal("a-Hi-b", Render("a-{% generation %}{{ messages[0].content }}{% endgeneration %}-b"));
    }

    [Fact]
    public void ListMethodsIndexAndCount()
    {
        Assert.Equal("1|2", Render("{% set l = ['a', 'b', 'b'] %}{{ l.index('b') }}|{{ l.count('b') }}"));
    }

    [Fact]
    public void NonAsciiAndSurrogatePairsAreCharacters()
    {
        Assert.Equal("2|😀|\"é😀\"", Render("{{ 'é😀' | length }}|{{ 'é😀'[1] }}|{{ 'é😀' | tojson }}"));
    }
}
