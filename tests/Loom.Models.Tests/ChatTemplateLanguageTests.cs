using Loom.Models.ChatTemplates;

namespace Loom.Models.Tests;

/// <summary>
/// Language features, one snippet each, against the output of Python jinja2 3.1.6 in transformers' configuration
/// (trim_blocks, lstrip_blocks, loopcontrols, HF tojson/strftime_now) with the same variables.
/// </summary>
public class ChatTemplateLanguageTests
{
    private static List<object?> L(params object?[] items) => items.ToList();

    private static Dictionary<string, object?> D(params (string Key, object? Value)[] entries) =>
        entries.ToDictionary(e => e.Key, e => e.Value);

    internal static readonly Dictionary<string, object?> Variables = new()
    {
        ["xs"] = L(3L, 1L, 2L),
        ["names"] = L("b", "A", "c", "a"),
        ["d"] = D(("b", 1L), ("a", 2L)),
        ["s"] = "  Hello World  ",
        ["n"] = 7L,
        ["f"] = 2.5,
        ["neg"] = -3L,
        ["nested"] = D(("a", D(("b", "deep")))),
        ["none_val"] = null,
        ["t"] = true,
        ["empty"] = L(),
        ["word"] = "hello",
        ["msgs"] = L(D(("role", "system"), ("content", "sys")), D(("role", "user"), ("content", "hi")), D(("role", "assistant"), ("content", "yo"), ("extra", 1L)), D(("role", "user"), ("content", "bye"))),
        ["tools"] = L(D(("type", "function"), ("function", D(("name", "get_weather"), ("description", "Get the weather"), ("parameters", D(("type", "object"), ("properties", D(("city", D(("type", "string"))))), ("required", L("city")))))))),
        ["uni"] = "héllo “world” 日本",
    };

    internal static string Render(string template) =>
        new ChatTemplate(template) { Clock = () => ChatTemplateFixtureTests.PinnedNow }.Render(Array.Empty<ChatMessage>(), false, extra: Variables);

    [Theory]
    [InlineData("literals",
        "{{ 1 }}|{{ 1.5 }}|{{ 'a' }}|{{ \"b\" }}|{{ true }}|{{ True }}|{{ none }}|{{ None }}|{{ [1, 'x', none] }}|{{ {'k': 1} }}|{{ (1, 2) | list }}",
        "1|1.5|a|b|True|True|None|None|[1, 'x', None]|{'k': 1}|[1, 2]")]
    [InlineData("string escapes",
        "{{ 'a\\nb\\tc\\\\d\\'e' }}|{{ \"q\\\"q\" }}|{{ '\\u00e9' }}",
        "a\nb\tc\\d'e|q\"q|é")]
    [InlineData("floats",
        "{{ 0.1 + 0.2 }}|{{ 1e20 }}|{{ 1.0 }}|{{ 10 / 4 }}|{{ 1e-5 }}|{{ 3 * 1.0 }}|{{ 123456789.123 }}",
        "0.30000000000000004|1e+20|1.0|2.5|1e-05|3.0|123456789.123")]
    [InlineData("arithmetic",
        "{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ n - 10 }}|{{ -n }}|{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}",
        "3|-4|1|2|1024|0.5|-3|-7|7|9")]
    [InlineData("concat",
        "{{ 'a' ~ 1 ~ none ~ true }}|{{ 'x' + 'y' }}|{{ [1] + [2] }}|{{ 'ab' * 3 }}",
        "a1NoneTrue|xy|[1, 2]|ababab")]
    [InlineData("comparisons",
        "{{ 1 == 1.0 }}|{{ 'a' < 'b' }}|{{ 2 >= 3 }}|{{ 1 != 2 }}|{{ [1,2] == [1,2] }}|{{ none == none }}|{{ true == 1 }}",
        "True|True|False|True|True|True|True")]
    [InlineData("in",
        "{{ 'ell' in word }}|{{ 2 in xs }}|{{ 'a' in d }}|{{ 'z' not in d }}|{{ 5 not in xs }}",
        "True|True|True|True|True")]
    [InlineData("logic",
        "{{ true and 'x' }}|{{ false or 'y' }}|{{ not none }}|{{ not 0 and 1 }}|{{ none or [] or 'z' }}",
        "x|y|True|1|z")]
    [InlineData("conditional expr",
        "{{ 'a' if t else 'b' }}|{{ 'a' if none_val else 'b' }}|{{ 'only' if false }}|",
        "a|b||")]
    [InlineData("attr and item",
        "{{ nested.a.b }}|{{ nested['a']['b'] }}|{{ msgs[1].content }}|{{ msgs[-1]['role'] }}|{{ xs[0] }}|{{ word[1] }}|{{ nested.missing }}|{{ xs[10] }}",
        "deep|deep|hi|user|3|e||")]
    [InlineData("slicing",
        "{{ xs[1:] }}|{{ xs[:-1] }}|{{ xs[::-1] }}|{{ word[::-1] }}|{{ word[1:3] }}|{{ msgs[1:] | length }}|{{ xs[::2] }}|{{ xs[5:] }}",
        "[1, 2]|[3, 1]|[2, 1, 3]|olleh|el|3|[3, 2]|[]")]
    [InlineData("if elif else",
        "{% for v in [1, 2, 3] %}{% if v == 1 %}one{% elif v == 2 %}two{% else %}many{% endif %},{% endfor %}",
        "one,two,many,")]
    [InlineData("for loop vars",
        "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
        "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;")]
    [InlineData("for prev next",
        "{% for x in xs %}[{{ loop.previtem }}|{{ loop.nextitem }}]{% endfor %}",
        "[|1][3|2][1|]")]
    [InlineData("for else",
        "{% for x in empty %}x{% else %}empty{% endfor %}|{% for x in xs if x > 5 %}x{% else %}none{% endfor %}",
        "empty|none")]
    [InlineData("for filter",
        "{% for m in msgs if m.role != 'system' %}{{ loop.index }}:{{ m.content }}/{{ loop.length }} {% endfor %}",
        "1:hi/3 2:yo/3 3:bye/3 ")]
    [InlineData("for unpack",
        "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}",
        "b=1;a=2;37")]
    [InlineData("for dict",
        "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'abc' %}{{ c }}.{% endfor %}",
        "ba|a.b.c.")]
    [InlineData("break continue",
        "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}",
        "0134")]
    [InlineData("loop cycle",
        "{% for x in xs %}{{ loop.cycle('odd', 'even') }} {% endfor %}",
        "odd even odd ")]
    [InlineData("nested loops",
        "{% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.index }}{{ a * b }} {% endfor %}{{ loop.index }}|{% endfor %}",
        "13 24 1|16 28 2|")]
    [InlineData("set scoping",
        "{% set x = 1 %}{% for i in xs %}{% set x = i %}{% endfor %}{{ x }}",
        "1")]
    [InlineData("namespace",
        "{% set ns = namespace(count=0, found=false) %}{% for i in xs %}{% set ns.count = ns.count + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}",
        "6 True")]
    [InlineData("set tuple",
        "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 1, 2 %}{{ c | length }}",
        "122")]
    [InlineData("set block",
        "{% set body %}Hello {{ word }}!{% endset %}[{{ body }}]{% set up | upper %}shout{% endset %}{{ up }}",
        "[Hello hello!]SHOUT")]
    [InlineData("macro",
        "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(name='C', punct='.') }}",
        "Hi A! Hi B? Hi C.")]
    [InlineData("macro varargs",
        "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}",
        "1(2, 3){'k': 4}")]
    [InlineData("macro recursion",
        "{% macro fact(k) %}{% if k <= 1 %}1{% else %}{{ k * (fact(k - 1) | int) }}{% endif %}{% endmacro %}{{ fact(5) }}",
        "120")]
    [InlineData("call block",
        "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}inner {{ word }}{% endcall %}",
        "<b>inner hello</b>")]
    [InlineData("call block args",
        "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(v) each(xs) %}[{{ v }}]{% endcall %}",
        "[3][1][2]")]
    [InlineData("filter block",
        "{% filter upper %}hello {{ word }}{% endfilter %}|{% filter replace('l', 'L') | trim %}  all  {% endfilter %}",
        "HELLO HELLO|aLL")]
    [InlineData("comments",
        "a{# comment #}b{# multi\nline #}c",
        "abc")]
    [InlineData("raw",
        "{% raw %}{{ not evaluated }}{% endraw %}",
        "{{ not evaluated }}")]
    [InlineData("ws minus",
        "a  {{- 'b' -}}  c\n  {%- if true -%}\n  d\n  {%- endif -%}  e",
        "abcde")]
    [InlineData("trim lstrip blocks",
        "line1\n  {% if true %}\n  inner\n  {% endif %}\nline2\n",
        "line1\n  inner\nline2")]
    [InlineData("plus disables lstrip",
        "x\n    {%+ if true %}y{% endif %}\n",
        "x\n    y")]
    [InlineData("plus disables trim",
        "{% if true +%}\nkept{% endif %}",
        "\nkept")]
    [InlineData("lstrip not for output",
        "a\n  {{ 'b' }}\n  {# c #}\nd",
        "a\n  b\nd")]
    [InlineData("trailing newline dropped",
        "abc\n",
        "abc")]
    [InlineData("crlf",
        "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n",
        "a\nb\n")]
    [InlineData("lstrip after inline tag",
        "{% if true %}x{% endif %}  {% if true %}y{% endif %}",
        "x  y")]
    [InlineData("tests",
        "{{ xs is defined }}{{ zz is defined }}{{ zz is undefined }}{{ none_val is none }}{{ word is string }}{{ n is number }}{{ n is integer }}{{ f is float }}{{ d is mapping }}{{ xs is iterable }}{{ word is sequence }}{{ t is boolean }}{{ t is true }}{{ t is false }}",
        "TrueFalseTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueFalse")]
    [InlineData("tests args",
        "{{ n is odd }}{{ n is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}{{ 'user' is eq 'user' }}{{ n is equalto 7 }}{{ n is not none }}{{ 1 is in xs }}{{ word is lower }}",
        "TrueFalseTrueFalseTrueTrueTrueTrueTrue")]
    [InlineData("string filters",
        "{{ s | trim }}|{{ word | upper }}|{{ 'HeLLo' | lower }}|{{ 'hello world-foo' | title }}|{{ 'hELLO' | capitalize }}|{{ s | length }}|{{ 'a,b,,c' | replace(',', ';') }}|{{ 'aaa' | replace('a', 'b', 2) }}",
        "Hello World|HELLO|hello|Hello World-Foo|Hello|15|a;b;;c|bba")]
    [InlineData("default",
        "{{ zz | default('dflt') }}|{{ none_val | default('x') }}|{{ '' | default('e', true) }}|{{ '' | d('e') }}|{{ word | d('no') }}|{{ zz | default }}",
        "dflt|None|e||hello|")]
    [InlineData("join",
        "{{ xs | join(', ') }}|{{ names | join }}|{{ msgs | map(attribute='role') | join('/') }}|{{ msgs | join(',', attribute='content') }}",
        "3, 1, 2|bAca|system/user/assistant/user|sys,hi,yo,bye")]
    [InlineData("tojson",
        "{{ tools | tojson }}|{{ {'a': [1, 2.5, none, true], 'u': uni} | tojson }}|{{ 'x\"y\\n' | tojson }}",
        "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}]|{\"a\": [1, 2.5, null, true], \"u\": \"héllo “world” 日本\"}|\"x\\\"y\\n\"")]
    [InlineData("tojson indent",
        "{{ tools[0].function | tojson(indent=4) }}|{{ [] | tojson(indent=2) }}|{{ {'b': 1, 'a': {}} | tojson(indent=2) }}",
        "{\n    \"name\": \"get_weather\",\n    \"description\": \"Get the weather\",\n    \"parameters\": {\n        \"type\": \"object\",\n        \"properties\": {\n            \"city\": {\n                \"type\": \"string\"\n            }\n        },\n        \"required\": [\n            \"city\"\n        ]\n    }\n}|[]|{\n  \"b\": 1,\n  \"a\": {}\n}")]
    [InlineData("tojson options",
        "{{ uni | tojson(true) }}|{{ d | tojson(indent=2, sort_keys=true) }}|{{ tools | tojson(separators=(',', ':')) }}|{{ d | tojson(ensure_ascii=false, indent='\t') }}",
        "\"h\\u00e9llo \\u201cworld\\u201d \\u65e5\\u672c\"|{\n  \"a\": 2,\n  \"b\": 1\n}|[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Get the weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}]|{\n\t\"b\": 1,\n\t\"a\": 2\n}")]
    [InlineData("non-string keys",
        "{% set m = {0: 'a', 512: 'b', 1.5: 'c', none: 'n', true: 't'} %}{{ m[0] }}{{ m[512] }}{{ m[1.5] }}{{ m[none] }}{{ m[1] }}|{{ m }}|{{ m | tojson }}|{{ m.get(512) }}{{ 1 in m }}{{ 2 in m }}|{{ m | items | list }}|{{ {1: 'x', 1.0: 'y'} }}|{{ {(1, 2): 'p'}[(1, 2)] }}",
        "abcnt|{0: 'a', 512: 'b', 1.5: 'c', None: 'n', True: 't'}|{\"0\": \"a\", \"512\": \"b\", \"1.5\": \"c\", \"null\": \"n\", \"true\": \"t\"}|bTrueFalse|[(0, 'a'), (512, 'b'), (1.5, 'c'), (None, 'n'), (True, 't')]|{1: 'y'}|p")]
    [InlineData("select on none",
        "{{ none | selectattr('type', 'equalto', 'x') | list }}|{{ zz | map(attribute='a') | list }}|{{ none | select | list | length }}",
        "[]|[]|0")]
    [InlineData("items keys values",
        "{{ d | items | list }}|{{ d.keys() | list }}|{{ d.values() | list }}|{{ d.get('a') }}|{{ d.get('z', 'none') }}|{{ d.get('z') }}",
        "[('b', 1), ('a', 2)]|['b', 'a']|[1, 2]|2|none|None")]
    [InlineData("selectattr",
        "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }}|{{ msgs | rejectattr('role', 'eq', 'user') | list | length }}|{{ msgs | selectattr('extra') | list | length }}|{{ msgs | selectattr('extra', 'defined') | list | length }}",
        "['hi', 'bye']|2|1|1")]
    [InlineData("select reject",
        "{{ xs | select('odd') | list }}|{{ xs | reject('odd') | list }}|{{ [0, 1, '', 'a'] | select | list }}",
        "[3, 1]|[2]|[1, 'a']")]
    [InlineData("map",
        "{{ names | map('upper') | list }}|{{ ['1', '2'] | map('int') | sum }}|{{ tools | map(attribute='function.name') | list }}|{{ msgs | map(attribute='nope', default='d') | list }}",
        "['B', 'A', 'C', 'A']|3|['get_weather']|['d', 'd', 'd', 'd']")]
    [InlineData("list first last",
        "{{ 'abc' | list }}|{{ xs | first }}|{{ xs | last }}|{{ word | first }}|{{ empty | first }}",
        "['a', 'b', 'c']|3|2|h|")]
    [InlineData("reverse sort unique",
        "{{ xs | reverse | list }}|{{ word | reverse }}|{{ xs | sort }}|{{ names | sort }}|{{ names | sort(case_sensitive=true) }}|{{ xs | sort(reverse=true) }}|{{ msgs | sort(attribute='content') | map(attribute='content') | join(',') }}|{{ ['a', 'A', 'b', 'a'] | unique | list }}",
        "[2, 1, 3]|olleh|[1, 2, 3]|['A', 'a', 'b', 'c']|['A', 'a', 'b', 'c']|[3, 2, 1]|bye,hi,sys,yo|['a', 'b']")]
    [InlineData("conversions",
        "{{ '42' | int + 1 }}|{{ 'x' | int }}|{{ '3.7' | int }}|{{ 3.9 | int }}|{{ '2.5' | float }}|{{ 3 | float }}|{{ 5 | string ~ '!' }}|{{ none | string }}|{{ [1] | string }}",
        "43|0|3|3|2.5|3.0|5!|None|[1]")]
    [InlineData("numbers",
        "{{ neg | abs }}|{{ -2.5 | abs }}|{{ 2.567 | round(2) }}|{{ 2.5 | round }}|{{ 3.5 | round }}|{{ 2.1 | round(method='ceil') }}|{{ xs | sum }}|{{ xs | min }}|{{ xs | max }}",
        "3|2.5|2.57|2.0|4.0|3.0|6|1|3")]
    [InlineData("indent",
        "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}|{{ 'x\\n' | indent(3) }}",
        "a\n    b\n\n    c|  a\n  b|a\n  \n  b|x\n")]
    [InlineData("wordcount etc",
        "{{ 'one two, three' | wordcount }}|{{ xs | count }}|{{ d | length }}|{{ 'x' | safe }}|{{ '<a href=\"x\">&' | e }}|{{ '%s-%d' | format('a', 3) }}",
        "3|3|2|x|&lt;a href=&#34;x&#34;&gt;&amp;|a-3")]
    [InlineData("batch dictsort",
        "{{ [1, 2, 3, 4, 5] | batch(2) | list }}|{{ [1, 2, 3] | batch(2, 0) | list }}|{{ d | dictsort }}",
        "[[1, 2], [3, 4], [5]]|[[1, 2], [3, 0]]|[('a', 2), ('b', 1)]")]
    [InlineData("string methods",
        "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ 'xxhixx'.strip('x') }}|{{ 'a b  c'.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a,b,c'.split(',', 1) }}|{{ word.startswith('he') }}|{{ word.endswith(('x', 'lo')) }}|{{ word.upper() }}|{{ 'ABC'.lower() }}|{{ word.replace('l', 'L') }}|{{ 'hello world'.title() }}|{{ word.capitalize() }}|{{ word.find('l') }}|{{ word.count('l') }}|{{ '-'.join(['a', 'b']) }}",
        "Hello World|Hello World  |  Hello World|hi|['a', 'b', 'c']|['a', 'b', '', 'c']|['a', 'b,c']|True|True|HELLO|abc|heLLo|Hello World|Hello|2|2|a-b")]
    [InlineData("think split",
        "{% set c = '<think>\\nreason\\n</think>\\n\\nanswer' %}{{ c.split('</think>')[-1].lstrip('\\n') }}|{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}",
        "answer|reason")]
    [InlineData("range",
        "{{ range(3) | list }}|{{ range(1, 4) | list }}|{{ range(10, 0, -3) | list }}|{{ range(0) | list }}",
        "[0, 1, 2]|[1, 2, 3]|[10, 7, 4, 1]|[]")]
    [InlineData("dict global",
        "{{ dict(a=1, b='x') }}|{{ dict(a=1).a }}",
        "{'a': 1, 'b': 'x'}|1")]
    [InlineData("strftime",
        "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%B %A %j %I%p') }}",
        "26 Jul 2024|2024-07-26 13:05:09|July Friday 208 01PM")]
    [InlineData("undefined semantics",
        "[{{ zz }}]|{{ zz | length }}|{% for a in zz %}x{% endfor %}|{{ zz is defined }}|{{ not zz }}|{{ zz == zz }}|{{ zz ~ 'x' }}",
        "[]|0||False|True|True|x")]
    [InlineData("print containers",
        "{{ msgs[0] }}|{{ ['it\\'s', \"q\"] }}|{{ [1.0, none, true] }}|{{ {'a': {'b': []}} }}",
        "{'role': 'system', 'content': 'sys'}|[\"it's\", 'q']|[1.0, None, True]|{'a': {'b': []}}")]
    [InlineData("unicode",
        "{{ uni }}|{{ uni | length }}|{{ uni | upper }}|{{ uni[1] }}",
        "héllo “world” 日本|16|HÉLLO “WORLD” 日本|é")]
    [InlineData("precedence",
        "{{ (1 + 2) ~ 3 }}|{{ 2 * 3 ** 2 }}|{{ -2 ** 2 }}|{{ not 1 == 2 }}|{{ 'a' ~ 'b' | upper }}|{{ xs | length > 2 }}|{{ (xs | length) - 1 }}",
        "33|18|4|True|aB|True|2")]
    [InlineData("is defined in conditions",
        "{% if msgs[0].tool_calls is defined and msgs[0].tool_calls %}x{% else %}y{% endif %}{% if not zz is defined %}z{% endif %}",
        "yz")]
    [InlineData("loop in macro",
        "{% macro m(items) %}{% for i in items %}{{ loop.index }}{% endfor %}{% endmacro %}{% for x in [1] %}{{ m(xs) }}{{ loop.index }}{% endfor %}",
        "1231")]
    [InlineData("nested ns in loop",
        "{% set ns = namespace(out=[]) %}{% for m in msgs %}{% set ns.out = ns.out + [m.role[0]] %}{% endfor %}{{ ns.out | join }}",
        "suau")]
    [InlineData("string comparisons",
        "{{ 'abc' < 'abd' }}|{{ [1, 2] < [1, 3] }}|{{ 'B' < 'a' }}",
        "True|True|True")]
    [InlineData("dict literal trailing commas",
        "{{ {'a': 1,} }}|{{ [1, 2,] }}|{{ (1,) }}",
        "{'a': 1}|[1, 2]|(1,)")]
    [InlineData("adjacent strings",
        "{{ 'a' 'b' \"c\" }}",
        "abc")]
    [InlineData("multiline expression",
        "{{\n  'a'\n  ~ 'b'\n}}",
        "ab")]
    public void MatchesJinja(string feature, string template, string expected)
    {
        Assert.False(string.IsNullOrEmpty(feature));
        Assert.Equal(expected, Render(template));
    }

    [Theory]
    [InlineData("concat binds tighter than plus", "{{ 1 + 2 ~ 3 }}")]  // jinja2: TypeError: unsupported operand type(s) for +: 'int' and 'str'
    [InlineData("raise", "{{ raise_exception('custom message') }}")]  // jinja2: TemplateError: custom message
    [InlineData("undefined arithmetic", "{{ zz + 1 }}")]  // jinja2: UndefinedError: 'zz' is undefined
    [InlineData("str plus int", "{{ 'a' + 1 }}")]  // jinja2: TypeError: can only concatenate str (not "int") to str
    [InlineData("call undefined", "{{ nope() }}")]  // jinja2: UndefinedError: 'nope' is undefined
    [InlineData("unknown filter", "{{ 1 | nosuchfilter }}")]  // jinja2: compile: TemplateAssertionError: No filter named 'nosuchfilter'.
    [InlineData("unknown test", "{{ 1 is nosuchtest }}")]  // jinja2: compile: TemplateAssertionError: No test named 'nosuchtest'.
    [InlineData("division by zero", "{{ 1 // 0 }}")]  // jinja2: ZeroDivisionError: integer division or modulo by zero
    [InlineData("iterate int", "{% for x in 5 %}{% endfor %}")]  // jinja2: TypeError: 'int' object is not iterable
    [InlineData("set attr on non-namespace", "{% set d2 = {} %}{% set d2.x = 1 %}")]  // jinja2: TemplateRuntimeError: cannot assign attribute on non-namespace object
    [InlineData("unpack mismatch", "{% for a, b in [[1, 2, 3]] %}{% endfor %}")]  // jinja2: ValueError: too many values to unpack (expected 2)
    [InlineData("compare incompatible", "{{ 1 < 'a' }}")]  // jinja2: TypeError: '<' not supported between instances of 'int' and 'str'
    [InlineData("tojson undefined", "{{ zz | tojson }}")]  // jinja2: TypeError: Object of type Undefined is not JSON serializable
    public void RaisesWhereJinjaRaises(string feature, string template)
    {
        Assert.False(string.IsNullOrEmpty(feature));
        var ex = Assert.Throws<ChatTemplateException>(() => Render(template));
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }
}
