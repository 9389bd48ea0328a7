using System.Globalization;

namespace Loom.Engine.Structured;

/// <summary>
/// Parses a regular expression (the common subset of ECMAScript, Python and .NET syntax) into a grammar expression
/// matched against a whole string: literals and escapes (<c>\n \t \r \f \v \0 \xHH \uHHHH \u{H…}</c>, escaped
/// metacharacters), classes with ranges and negation, <c>\d \w \s</c> and their negations (ASCII digits, word
/// characters and white space, so a pattern means the same under every engine), <c>.</c> (any character but line
/// breaks), groups (plain, non-capturing and named), alternation, and the quantifiers <c>* + ? {m} {m,} {m,n}</c>
/// (lazy forms too: they accept the same strings). <c>^</c> and <c>$</c> are allowed only at the start and end.
/// Anything else (backreferences, lookaround, word boundaries, inline flags, possessive quantifiers) is refused with
/// an error naming it.
/// </summary>
internal sealed class RegexParser
{
    private readonly string _s;
    private readonly string _field;
    private int _p;

    private RegexParser(string pattern, string field)
    {
        _s = pattern;
        _field = field;
    }

    /// <summary>The parsed expression and whether it was anchored at its start and end.</summary>
    public readonly record struct Result(GNode Node, bool AnchoredStart, bool AnchoredEnd);

    public static Result Parse(string pattern, string field)
    {
        var parser = new RegexParser(pattern, field);
        bool start = false, end = false;
        if (parser._p < pattern.Length && pattern[parser._p] == '^') { parser._p++; start = true; }
        var node = parser.Alternation(topLevel: true, ref end);
        if (parser._p < pattern.Length) throw parser.Error($"unexpected '{pattern[parser._p]}'", null);
        return new Result(node, start, end);
    }

    private ConstraintException Error(string message, string? keyword) =>
        new($"regex /{_s}/ at offset {_p}: {message}", _field, keyword);

    private GNode Alternation(bool topLevel, ref bool anchoredEnd)
    {
        var options = new List<GNode> { Sequence(topLevel, ref anchoredEnd) };
        while (_p < _s.Length && _s[_p] == '|')
        {
            _p++;
            options.Add(Sequence(topLevel, ref anchoredEnd));
        }
        return options.Count == 1 ? options[0] : new GAlt([.. options]);
    }

    private GNode Sequence(bool topLevel, ref bool anchoredEnd)
    {
        var items = new List<GNode>();
        while (_p < _s.Length && _s[_p] != '|' && _s[_p] != ')')
        {
            char c = _s[_p];
            if (c == '$')
            {
                _p++;
                if (!topLevel || _p < _s.Length) throw Error("'$' is supported only at the end of the pattern", "$");
                anchoredEnd = true;
                continue;
            }
            if (c == '^') throw Error("'^' is supported only at the start of the pattern", "^");
            var atom = Atom();
            items.Add(Quantifier(atom));
        }
        return items.Count == 1 ? items[0] : new GSeq([.. items]);
    }

    private GNode Atom()
    {
        char c = _s[_p];
        switch (c)
        {
            case '(':
            {
                _p++;
                if (_p < _s.Length && _s[_p] == '?')
                {
                    _p++;
                    if (_p < _s.Length && _s[_p] == ':') _p++;
                    else if (_p < _s.Length && _s[_p] == 'P' && _p + 1 < _s.Length && _s[_p + 1] == '<') { _p += 2; SkipName(); }
                    else if (_p < _s.Length && _s[_p] == '<' && _p + 1 < _s.Length && _s[_p + 1] != '=' && _s[_p + 1] != '!') { _p++; SkipName(); }
                    else if (_p < _s.Length && (_s[_p] is '=' or '!' || (_s[_p] == '<' && _p + 1 < _s.Length))) throw Error("lookaround assertions are not supported", "lookaround");
                    else throw Error("inline flags and other group extensions are not supported", "(?");
                }
                bool inner = false;
                var node = Alternation(topLevel: false, ref inner);
                if (_p >= _s.Length || _s[_p] != ')') throw Error("missing ')'", null);
                _p++;
                return node;
            }
            case '[': return new GChars(Class());
            case '.': _p++; return new GChars(Bmp.Minus(CodePointSet.Of(('\n', '\n'), ('\r', '\r'), (0x2028, 0x2029))));
            case '\\': return EscapeAtom();
            case '*' or '+' or '?' or '{' when c != '{' || IsQuantifierBrace():
                throw Error($"nothing to repeat before '{c}'", null);
            default:
                return new GChars(One(NextCodePoint()));
        }
    }

    private void SkipName()
    {
        while (_p < _s.Length && _s[_p] != '>') _p++;
        if (_p >= _s.Length) throw Error("unterminated group name", null);
        _p++;
    }

    private bool IsQuantifierBrace()
    {
        int q = _p + 1;
        int digits = 0;
        while (q < _s.Length && char.IsAsciiDigit(_s[q])) { q++; digits++; }
        if (digits == 0) return false;
        if (q < _s.Length && _s[q] == '}') return true;
        if (q < _s.Length && _s[q] == ',')
        {
            q++;
            while (q < _s.Length && char.IsAsciiDigit(_s[q])) q++;
            return q < _s.Length && _s[q] == '}';
        }
        return false;
    }

    private GNode Quantifier(GNode atom)
    {
        while (_p < _s.Length)
        {
            char c = _s[_p];
            int min, max;
            if (c == '*') { min = 0; max = -1; _p++; }
            else if (c == '+') { min = 1; max = -1; _p++; }
            else if (c == '?') { min = 0; max = 1; _p++; }
            else if (c == '{' && IsQuantifierBrace())
            {
                _p++;
                min = ReadInt();
                max = min;
                if (_s[_p] == ',')
                {
                    _p++;
                    max = _s[_p] == '}' ? -1 : ReadInt();
                }
                _p++; // }
                if (max != -1 && max < min) throw Error($"quantifier {{{min},{max}}} is out of order", null);
                if (min > GbnfParser.RepeatLimit || max > GbnfParser.RepeatLimit) throw Error($"quantifier counts above {GbnfParser.RepeatLimit} are not supported", null);
            }
            else break;
            if (_p < _s.Length && _s[_p] == '?') _p++; // lazy: same language
            else if (_p < _s.Length && _s[_p] == '+') throw Error("possessive quantifiers are not supported", "possessive");
            atom = new GRepeat(atom, min, max);
        }
        return atom;
    }

    private int ReadInt()
    {
        int start = _p;
        while (_p < _s.Length && char.IsAsciiDigit(_s[_p])) _p++;
        if (!int.TryParse(_s.AsSpan(start, _p - start), NumberStyles.None, CultureInfo.InvariantCulture, out int v))
            throw Error("quantifier count too large", null);
        return v;
    }

    private int NextCodePoint()
    {
        if (char.IsHighSurrogate(_s[_p]) && _p + 1 < _s.Length && char.IsLowSurrogate(_s[_p + 1]))
        {
            int cp = char.ConvertToUtf32(_s[_p], _s[_p + 1]);
            _p += 2;
            return cp;
        }
        if (char.IsSurrogate(_s[_p])) throw Error("lone surrogate", null);
        return _s[_p++];
    }

    public static CodePointSet Digit => CodePointSet.Of(('0', '9'));
    public static CodePointSet Word => CodePointSet.Of(('0', '9'), ('A', 'Z'), ('a', 'z'), ('_', '_'));
    public static CodePointSet Space => CodePointSet.Of(('\t', '\r'), (' ', ' '));

    /// <summary>
    /// Characters outside classes or with "any" are taken from the Basic Multilingual Plane only: .NET's and
    /// JavaScript's engines match such classes per UTF-16 unit, so an astral character would count as two.
    /// </summary>
    private static readonly CodePointSet Bmp = CodePointSet.Of((0, 0xFFFF));

    // Negated shorthands exclude what any common engine counts in the positive class (.NET's \d and \w are Unicode-wide):
    // what the grammar writes then matches under each of them.
    private static readonly Lazy<CodePointSet> NotDigit = new(() => Bmp.Minus(Category(c => char.IsDigit(c))));
    private static readonly Lazy<CodePointSet> NotWord = new(() => Bmp.Minus(Category(c => char.IsLetterOrDigit(c) || c == '_' ||
        char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.NonSpacingMark or System.Globalization.UnicodeCategory.ConnectorPunctuation
            or System.Globalization.UnicodeCategory.SpacingCombiningMark or System.Globalization.UnicodeCategory.EnclosingMark)));
    private static readonly Lazy<CodePointSet> NotSpace = new(() => Bmp.Minus(Category(c => char.IsWhiteSpace(c) || c == '\uFEFF')));

    private static CodePointSet Category(Func<char, bool> test)
    {
        var set = new CodePointSet();
        int start = -1;
        for (int c = 0; c <= 0x10000; c++)
        {
            bool inSet = c < 0x10000 && !char.IsSurrogate((char)c) && test((char)c);
            if (inSet && start < 0) start = c;
            else if (!inSet && start >= 0) { set.Add(start, c - 1); start = -1; }
        }
        return set;
    }

    /// <summary>After a backslash: a class escape (<c>\d</c>...) as a set, or a single character.</summary>
    private CodePointSet EscapeSet(bool inClass)
    {
        _p++; // backslash
        if (_p >= _s.Length) throw Error("pattern ends with a backslash", null);
        char c = _s[_p++];
        switch (c)
        {
            case 'd': return Digit;
            case 'D': return NotDigit.Value;
            case 'w': return Word;
            case 'W': return NotWord.Value;
            case 's': return Space;
            case 'S': return NotSpace.Value;
            case 'n': return One('\n');
            case 't': return One('\t');
            case 'r': return One('\r');
            case 'f': return One('\f');
            case 'v': return One('\v');
            case '0': return One(0);
            case 'x': return One(Hex(2));
            case 'u':
                if (_p < _s.Length && _s[_p] == '{')
                {
                    _p++;
                    int start = _p;
                    while (_p < _s.Length && _s[_p] != '}') _p++;
                    if (_p >= _s.Length) throw Error("unterminated \\u{...}", null);
                    if (!int.TryParse(_s.AsSpan(start, _p - start), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v) || v > CodePointSet.MaxCodePoint)
                        throw Error("invalid \\u{...}", null);
                    _p++;
                    return One(v);
                }
                return One(Hex(4));
            case 'b' when inClass: return One('\b');
            case 'b' or 'B': throw Error("word boundaries (\\b, \\B) are not supported", "\\" + c);
            case 'A' or 'z' or 'Z' or 'G': throw Error($"anchor \\{c} is not supported", "\\" + c);
            case 'p' or 'P': throw Error("Unicode property classes (\\p, \\P) are not supported", "\\" + c);
            case 'k': throw Error("backreferences are not supported", "backreference");
            default:
                if (char.IsAsciiDigit(c)) throw Error("backreferences are not supported", "backreference");
                if (char.IsAsciiLetter(c)) throw Error($"unknown escape \\{c}", "\\" + c);
                _p--;
                return One(NextCodePoint());
        }
    }

    private static CodePointSet One(int cp) => CodePointSet.Of((cp, cp));

    private GNode EscapeAtom() => new GChars(EscapeSet(inClass: false));

    private int Hex(int digits)
    {
        if (_p + digits > _s.Length || !int.TryParse(_s.AsSpan(_p, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v))
            throw Error("invalid hex escape", null);
        _p += digits;
        return v;
    }

    private CodePointSet Class()
    {
        _p++; // [
        bool negate = false;
        if (_p < _s.Length && _s[_p] == '^') { negate = true; _p++; }
        var set = new CodePointSet();
        bool first = true;
        while (true)
        {
            if (_p >= _s.Length) throw Error("unterminated character class", null);
            char c = _s[_p];
            if (c == ']' && !first) { _p++; break; }
            if (c == '[' && _p + 1 < _s.Length && _s[_p + 1] == ':') throw Error("POSIX classes ([:alpha:]) are not supported", "[:");
            first = false;
            CodePointSet lo = c == '\\' ? EscapeSet(inClass: true) : One(NextCodePoint());
            if (_p + 1 < _s.Length && _s[_p] == '-' && _s[_p + 1] != ']' && IsSingle(lo, out int loCp))
            {
                _p++;
                var hiSet = _s[_p] == '\\' ? EscapeSet(inClass: true) : One(NextCodePoint());
                if (!IsSingle(hiSet, out int hiCp)) throw Error("a class range ends in a class escape", null);
                if (hiCp < loCp) throw Error("class range out of order", null);
                set.Add(loCp, hiCp);
            }
            else set.Add(lo);
        }
        return negate ? Bmp.Minus(set) : set;
    }

    private static bool IsSingle(CodePointSet s, out int cp)
    {
        cp = s.Ranges.Count == 1 && s.Ranges[0].Lo == s.Ranges[0].Hi ? s.Ranges[0].Lo : -1;
        return cp >= 0;
    }
}
