using Loom.Models.ChatTemplates;

namespace Loom.Models.Tests;

/// <summary>
/// Python and Jinja behaviour that real templates reach for beyond the basics: the rest of <c>str</c>'s methods
/// (rsplit, format, partition, padding), printf-style <c>%</c>, the center/truncate/slice filters, <c>with</c>, and
/// Jinja's rule that an unknown filter or test under an <c>if</c> fails only when it runs. Each expected string is what
/// Python jinja2 3.1.6 renders in transformers' configuration.
/// </summary>
public class ChatTemplatePythonTests
{
    public static TheoryData<string, string> Renders => new()
    {
        { "{{ 'a,b,c'.rsplit(',', 1) }}", "['a,b', 'c']" },
        { "{{ 'a b c d'.rsplit(None, 2) }}", "['a b', 'c', 'd']" },
        { "{{ '  a b  '.rsplit(None, 1) }}", "['  a', 'b']" },
        { "{{ 'a,,b'.rsplit(',') }}", "['a', '', 'b']" },
        { "{{ ',a,'.rsplit(',', 1) }}", "[',a', '']" },
        { "{{ 'a b  c '.split(None, 1) }}", "['a', 'b  c ']" },
        { "{{ 'a=b=c'.partition('=') }} {{ 'a=b=c'.rpartition('=') }} {{ 'abc'.partition('x') }}", "('a', '=', 'b=c') ('a=b', '=', 'c') ('abc', '', '')" },
        { "{{ 'abc'.center(8, '*') }}|{{ 'ab'.center(5) }}|{{ 'abc'.ljust(5, '.') }}|{{ 'abc'.rjust(5) }}", "**abc***|  ab |abc..|  abc" },
        { "{{ '-42'.zfill(6) }} {{ 'Hello World'.swapcase() }} {{ 'abc'.index('c') }} {{ 'Ab1'.isalnum() }} {{ 'ab'.removeprefix('a') }}", "-00042 hELLO wORLD 2 True b" },
        { "{{ '%5s|%-5s|%05d|%+d|%.2f|%x|%X|%o|%e|%c|%%|%.1s' % ('a', 'b', 42, 3, 3.14159, 255, 255, 8, 12345.678, 65, 'xyz') }}", "    a|b    |00042|+3|3.14|ff|FF|10|1.234568e+04|A|%|x" },
        { "{{ '%s' % [1, 2] }}", "[1, 2]" },
        { "{{ '%d items' % 3 }}", "3 items" },
        { "{{ '% d' % 5 }}", " 5" },
        { "{{ '%s-%d' % ('a', 3) }}", "a-3" },
        { "{{ '%.3f' | format(2.5) }}", "2.500" },
        { "{{ '{}-{}'.format('a', 1) }}", "a-1" },
        { "{{ '{0}{1}{0}'.format('a', 'b') }}", "aba" },
        { "{{ '{name}!'.format(name='x') }}", "x!" },
        { "{{ '{:^7}|{:*<5}|{:>+6.2f}|{:08.3f}|{:x}'.format('mid', 'l', 3.14159, -2.5, 255) }}", "  mid  |l****| +3.14|-002.500|ff" },
        { "{{ '{!r}'.format('q') }}", "'q'" },
        { "{{ '{{}}{}'.format(1) }}", "{}1" },
        { "{{ '{0[a]}-{0.a}'.format({'a': 5}) }}", "5-5" },
        { "{{ '{:.3}'.format('abcdef') }}", "abc" },
        { "{{ '{:5d}|{:<5d}|{:e}|{:.1%}'.format(42, 7, 1234.5, 0.256) }}", "   42|7    |1.234500e+03|25.6%" },
        { "{{ '{:>5}'.format('a') }}", "    a" },
        { "{{ 'ab' | center(6) }}|{{ 'ab' | center(5) }}|{{ 'abc' | center | length }}", "  ab  |  ab |80" },
        { "{{ 'hello world this is long' | truncate(12) }}|{{ 'hello world this is long' | truncate(12, true) }}|{{ 'short' | truncate(3, leeway=0, end='') }}", "hello...|hello wor...|sho" },
        { "{{ 'hello world' | truncate(9, false, '..', 0) }}", "hello.." },
        { "{{ 'hello' | truncate(7) }}", "hello" },
        { "{{ [1,2,3,4,5] | slice(3) | list }}", "[[1, 2], [3, 4], [5]]" },
        { "{{ [1,2,3,4] | slice(3, 0) | list }}", "[[1, 2], [3, 0], [4, 0]]" },
        { "{% with a = 1 %}{{ a }}{% endwith %}", "1" },
        { "{% set a = 1 %}{% with a = a + 1, b = a %}{{ a }}{{ b }}{% endwith %}{{ a }}", "211" },
        { "{% for x in [1,2,3] %}{% with y = x * 2 %}{% if y == 4 %}{% continue %}{% endif %}{{ y }}{% endwith %}{% endfor %}", "26" },
        { "{% if false %}{{ x | nosuchfilter }}{% elif false %}{{ x is nosuchtest }}{% endif %}ok", "ok" },
        { "{{ 'a' | nosuchfilter if false else 'b' }}", "b" },
        { "{{ ('a' | nosuchfilter) if false else 'c' }}", "c" },
        { "{{ ['x' | nosuchfilter] if false }}|", "|" },
        { "{{ 'abc' is startingwith('a') if false else 'ok' }}", "ok" },
    };

    [Theory]
    [MemberData(nameof(Renders))]
    public void RendersLikeJinja(string template, string expected) => Assert.Equal(expected, new ChatTemplate(template).Render([], false));

    /// <summary>Where jinja2 raises (at compile time, or when the code runs), Loom does too, saying what is wrong.</summary>
    public static TheoryData<string, string> Errors => new()
    {
        { "{% if false %}{% for i in [1] %}{{ i | nosuchfilter }}{% endfor %}{% endif %}", "no filter named 'nosuchfilter'" },
        { "{{ 'a' is nosuchtest }}", "no test named 'nosuchtest'" },
        { "{{ 'a' | nosuchfilter or 'b' }}", "no filter named 'nosuchfilter'" },
        { "{% if true %}{{ 'a' | nosuchfilter }}{% endif %}", "no filter named 'nosuchfilter'" },
        { "{% if false %}{% macro m() %}{{ 1 | nosuchfilter }}{% endmacro %}{% endif %}", "no filter named 'nosuchfilter'" },
        { "{% if false %}{% filter nosuchfilter %}x{% endfilter %}{% endif %}", "no filter named 'nosuchfilter'" },
        { "{{ '%d %d' % (1,) }}", "not enough arguments for format string" },
        { "{{ '{2}'.format(1) }}", "Replacement index 2 out of range" },
        { "{{ 'abc'.index('z') }}", "substring not found" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void FailsLikeJinja(string template, string message)
    {
        var e = Assert.Throws<ChatTemplateException>(() => new ChatTemplate(template).Render([], false));
        Assert.Contains(message, e.Message);
    }
}
