using System.Globalization;
using System.Text;

namespace Loom.Engine.Structured;

/// <summary>
/// Parses GBNF, llama.cpp's grammar syntax: <c>name ::= alternatives</c> rules; <c>|</c>, grouping with parentheses,
/// the postfix operators <c>* + ?</c> and <c>{m}</c>, <c>{m,}</c>, <c>{m,n}</c>, <c>{,n}</c>; string literals with
/// escapes (<c>\n \r \t \\ \" \xHH \uHHHH \UHHHHHHHH</c>); character classes with ranges and <c>^</c> negation; <c>.</c>
/// (any character); rule references; <c>#</c> comments; and, beyond llama.cpp, <c>&lt;[id]&gt;</c> for a control
/// token by id. Characters are Unicode code points, matched as UTF-8 bytes.
/// The grammar starts at <c>root</c>. Accepts a little more than llama.cpp: a rule may continue on the next line
/// (a rule ends only where the next <c>name ::=</c> begins) and names may contain underscores.
/// </summary>
internal sealed class GbnfParser
{
    private readonly string _s;
    private int _p;
    private readonly string _field;

    private GbnfParser(string text, string field)
    {
        _s = text;
        _field = field;
    }

    public static GrammarAst Parse(string text, string field = "grammar")
    {
        var parser = new GbnfParser(text, field);
        var g = new GrammarAst();
        parser.SkipSpace();
        if (parser._p >= text.Length) throw parser.Error("the grammar is empty");
        while (parser._p < text.Length)
        {
            var name = parser.Name();
            parser.SkipSpace();
            if (!parser.TryConsume("::=")) throw parser.Error($"expected '::=' after rule name '{name}'");
            var body = parser.Alternates(nested: false);
            if (g.Rules.ContainsKey(name)) throw parser.Error($"rule '{name}' is defined twice");
            g.Add(name, body);
            parser.SkipSpace();
        }
        if (!g.Rules.ContainsKey("root")) throw new ConstraintException("the grammar has no 'root' rule", field, "root");
        foreach (var (name, body) in g.Rules) CheckRefs(g, name, body, field);
        return g;
    }

    private static void CheckRefs(GrammarAst g, string rule, GNode n, string field)
    {
        switch (n)
        {
            case GRef r when !g.Rules.ContainsKey(r.Name):
                throw new ConstraintException($"rule '{rule}' refers to undefined rule '{r.Name}'", field, r.Name);
            case GSeq s: foreach (var i in s.Items) CheckRefs(g, rule, i, field); break;
            case GAlt a: foreach (var o in a.Options) CheckRefs(g, rule, o, field); break;
            case GRepeat rep: CheckRefs(g, rule, rep.Item, field); break;
        }
    }

    private ConstraintException Error(string message)
    {
        int line = 1, col = 1;
        for (int i = 0; i < Math.Min(_p, _s.Length); i++)
        {
            if (_s[i] == '\n') { line++; col = 1; }
            else col++;
        }
        return new ConstraintException($"grammar syntax error at line {line}, column {col}: {message}", _field);
    }

    private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_';

    private void SkipSpace()
    {
        while (_p < _s.Length)
        {
            char c = _s[_p];
            if (c == '#')
            {
                while (_p < _s.Length && _s[_p] != '\n') _p++;
            }
            else if (char.IsWhiteSpace(c)) _p++;
            else break;
        }
    }

    private bool TryConsume(string token)
    {
        if (string.CompareOrdinal(_s, _p, token, 0, token.Length) != 0) return false;
        _p += token.Length;
        return true;
    }

    private string Name()
    {
        int start = _p;
        while (_p < _s.Length && IsWordChar(_s[_p])) _p++;
        if (_p == start) throw Error(_p < _s.Length ? $"expected a rule name, found '{_s[_p]}'" : "expected a rule name");
        return _s[start.._p];
    }

    /// <summary>True when the text at the cursor is <c>name ::=</c>, the start of the next rule.</summary>
    private bool AtRuleStart()
    {
        int save = _p;
        try
        {
            int start = _p;
            while (_p < _s.Length && IsWordChar(_s[_p])) _p++;
            if (_p == start) return false;
            SkipSpace();
            return TryConsume("::=");
        }
        finally { _p = save; }
    }

    private GNode Alternates(bool nested)
    {
        var options = new List<GNode> { Sequence(nested) };
        while (true)
        {
            SkipSpace();
            if (_p < _s.Length && _s[_p] == '|')
            {
                _p++;
                options.Add(Sequence(nested));
            }
            else break;
        }
        return options.Count == 1 ? options[0] : new GAlt([.. options]);
    }

    private GNode Sequence(bool nested)
    {
        var items = new List<GNode>();
        while (true)
        {
            SkipSpace();
            if (_p >= _s.Length) break;
            char c = _s[_p];
            if (c == '|' ) break;
            if (c == ')')
            {
                if (!nested) throw Error("unmatched ')'");
                break;
            }
            if (IsWordChar(c) && AtRuleStart()) break;
            GNode item;
            if (c == '"') item = Literal();
            else if (c == '[') item = CharClass();
            else if (c == '.') { _p++; item = new GChars(CodePointSet.Any()); }
            else if (c == '(')
            {
                _p++;
                item = Alternates(nested: true);
                SkipSpace();
                if (_p >= _s.Length || _s[_p] != ')') throw Error("expected ')'");
                _p++;
            }
            else if (c == '<') item = ControlToken();
            else if (IsWordChar(c)) item = new GRef(Name());
            else throw Error($"unexpected character '{c}'");
            items.Add(Postfix(item));
        }
        return items.Count == 1 ? items[0] : new GSeq([.. items]);
    }

    /// <summary><c>&lt;[id]&gt;</c>: the control token with that id (<see cref="TokenVocabulary.ControlTokenBytes"/>).</summary>
    private GLiteral ControlToken()
    {
        if (!TryConsume("<[")) throw Error("unexpected character '<' (a control token is written <[id]>)");
        if (!TryInt(out int id) || id >= 1 << 21) throw Error("expected a token id in '<[id]>'");
        if (!TryConsume("]>")) throw Error("expected ']>' after the token id");
        return new GLiteral(TokenVocabulary.ControlTokenBytes(id));
    }

    private GNode Postfix(GNode item)
    {
        while (_p < _s.Length)
        {
            char c = _s[_p];
            if (c == '*') { _p++; item = new GRepeat(item, 0, -1); }
            else if (c == '+') { _p++; item = new GRepeat(item, 1, -1); }
            else if (c == '?') { _p++; item = new GRepeat(item, 0, 1); }
            else if (c == '{')
            {
                _p++;
                SkipSpace();
                int min = 0, max;
                bool hasMin = TryInt(out int m);
                if (hasMin) min = m;
                SkipSpace();
                if (TryConsume(","))
                {
                    SkipSpace();
                    max = TryInt(out int x) ? x : -1;
                }
                else
                {
                    if (!hasMin) throw Error("expected a number in '{}'");
                    max = min;
                }
                SkipSpace();
                if (!TryConsume("}")) throw Error("expected '}'");
                if (max != -1 && max < min) throw Error($"repetition {{{min},{max}}} has its maximum below its minimum");
                if (min > RepeatLimit || max > RepeatLimit) throw Error($"repetition counts above {RepeatLimit} are not supported");
                item = new GRepeat(item, min, max);
            }
            else break;
        }
        return item;
    }

    /// <summary>Largest count a <c>{m,n}</c> repetition may have (each count unrolls into states).</summary>
    public const int RepeatLimit = 10000;

    private bool TryInt(out int value)
    {
        int start = _p;
        while (_p < _s.Length && char.IsAsciiDigit(_s[_p])) _p++;
        if (_p == start) { value = 0; return false; }
        if (!int.TryParse(_s.AsSpan(start, _p - start), NumberStyles.None, CultureInfo.InvariantCulture, out value))
            throw Error("repetition count too large");
        return true;
    }

    private GNode Literal()
    {
        _p++; // opening quote
        var bytes = new List<byte>();
        Span<byte> buf = stackalloc byte[4];
        while (true)
        {
            if (_p >= _s.Length) throw Error("unterminated string literal");
            char c = _s[_p];
            if (c == '"') { _p++; break; }
            int cp = c == '\\' ? Escape() : NextCodePoint();
            int n = new Rune(cp).EncodeToUtf8(buf);
            for (int i = 0; i < n; i++) bytes.Add(buf[i]);
        }
        return new GLiteral([.. bytes]);
    }

    private int NextCodePoint()
    {
        if (char.IsHighSurrogate(_s[_p]) && _p + 1 < _s.Length && char.IsLowSurrogate(_s[_p + 1]))
        {
            int cp = char.ConvertToUtf32(_s[_p], _s[_p + 1]);
            _p += 2;
            return cp;
        }
        if (char.IsSurrogate(_s[_p])) throw Error("lone surrogate in the grammar text");
        return _s[_p++];
    }

    private int Escape()
    {
        _p++; // backslash
        if (_p >= _s.Length) throw Error("unterminated escape");
        char c = _s[_p++];
        switch (c)
        {
            case 'n': return '\n';
            case 'r': return '\r';
            case 't': return '\t';
            case 'f': return '\f';
            case 'v': return '\v';
            case '0': return 0;
            case '\\': case '"': case '\'': case '[': case ']': case '-': case '^': case '/': case '.': case '(': case ')': case '|': case '*': case '+': case '?': case '{': case '}':
                return c;
            case 'x': return Hex(2);
            case 'u': return Hex(4);
            case 'U': return Hex(8);
            default: throw Error($"unknown escape '\\{c}'");
        }
    }

    private int Hex(int digits)
    {
        if (_p + digits > _s.Length) throw Error("truncated hex escape");
        if (!int.TryParse(_s.AsSpan(_p, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v))
            throw Error("invalid hex escape");
        _p += digits;
        if (v > CodePointSet.MaxCodePoint || (v >= 0xD800 && v <= 0xDFFF)) throw Error($"escape \\x{v:X} is not a Unicode scalar value");
        return v;
    }

    private GNode CharClass()
    {
        _p++; // [
        bool negate = false;
        if (_p < _s.Length && _s[_p] == '^') { negate = true; _p++; }
        var set = new CodePointSet();
        bool first = true;
        while (true)
        {
            if (_p >= _s.Length) throw Error("unterminated character class");
            char c = _s[_p];
            if (c == ']' && !first) { _p++; break; }
            if (c == ']' && first) { _p++; break; } // "[]" is the empty class
            first = false;
            int lo = c == '\\' ? Escape() : NextCodePoint();
            int hi = lo;
            if (_p + 1 < _s.Length && _s[_p] == '-' && _s[_p + 1] != ']')
            {
                _p++;
                hi = _s[_p] == '\\' ? Escape() : NextCodePoint();
                if (hi < lo) throw Error("character range is out of order");
            }
            set.Add(lo, hi);
        }
        if (negate) set = set.Complement();
        return new GChars(set);
    }
}
