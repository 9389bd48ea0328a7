using System.Globalization;
using System.Text;

namespace Loom.Models.ChatTemplates.Lexing;

/// <summary>
/// Splits template source into text and tag tokens, applying Jinja's whitespace rules as Hugging Face configures
/// them (<c>trim_blocks</c> and <c>lstrip_blocks</c> on, <c>keep_trailing_newline</c> off), then tokenizes the
/// expressions inside <c>{{ }}</c> and <c>{% %}</c>. Comments are dropped here.
/// </summary>
internal sealed class TemplateLexer
{
    private readonly string _src;
    private readonly List<Token> _tokens = new();
    private int _pos;
    private int _line = 1;
    private int _lineStart;

    private TemplateLexer(string source)
    {
        // Jinja normalises newlines and drops one trailing newline before lexing.
        source = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (source.EndsWith('\n')) source = source[..^1];
        _src = source;
    }

    public static List<Token> Tokenize(string source)
    {
        var lexer = new TemplateLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private void Run()
    {
        bool lineStarting = true;
        while (_pos < _src.Length)
        {
            int tag = FindTagStart(_pos);
            int textEnd = tag < 0 ? _src.Length : tag;
            string text = _src[_pos..textEnd];
            int textLine = _line, textCol = _pos - _lineStart + 1;

            if (tag >= 0)
            {
                char kind = _src[tag + 1];
                char mod = tag + 2 < _src.Length ? _src[tag + 2] : '\0';
                if (mod == '-')
                    text = text.TrimEnd();
                else if (mod != '+' && kind != '{')
                    text = LstripBlock(text, lineStarting);
            }

            if (text.Length > 0) _tokens.Add(new Token(TokenKind.Text, text, textLine, textCol));
            Advance(textEnd);
            if (tag < 0) break;

            int consumedFrom = _pos;
            LexTag();
            lineStarting = _pos > consumedFrom && _src[_pos - 1] == '\n';
        }
        _tokens.Add(new Token(TokenKind.End, "", _line, _pos - _lineStart + 1));
    }

    private static string LstripBlock(string text, bool lineStarting)
    {
        int lpos = text.LastIndexOf('\n') + 1;
        if (lpos == 0 && !lineStarting) return text;
        for (int i = lpos; i < text.Length; i++)
            if (text[i] != ' ' && text[i] != '\t') return text;
        return text[..lpos];
    }

    private int FindTagStart(int from)
    {
        for (int i = from; i + 1 < _src.Length; i++)
            if (_src[i] == '{' && (_src[i + 1] == '{' || _src[i + 1] == '%' || _src[i + 1] == '#'))
                return i;
        return -1;
    }

    /// <summary>Moves to <paramref name="to"/>, keeping line/column bookkeeping right.</summary>
    private void Advance(int to)
    {
        for (; _pos < to; _pos++)
            if (_src[_pos] == '\n') { _line++; _lineStart = _pos + 1; }
    }

    private ChatTemplateException Error(string message) => new(message, _line, _pos - _lineStart + 1);

    private void LexTag()
    {
        char kind = _src[_pos + 1];
        int line = _line, col = _pos - _lineStart + 1;
        Advance(_pos + 2);
        if (_pos < _src.Length && (_src[_pos] == '-' || _src[_pos] == '+')) Advance(_pos + 1);

        if (kind == '#')
        {
            int close = _src.IndexOf("#}", _pos, StringComparison.Ordinal);
            if (close < 0) throw new ChatTemplateException("unterminated comment", line, col);
            char rmod = close > _pos && (_src[close - 1] == '-' || _src[close - 1] == '+') ? _src[close - 1] : '\0';
            Advance(close + 2);
            AfterTagEnd(rmod, isBlock: true);
            return;
        }

        bool isOutput = kind == '{';
        if (!isOutput && TryLexRaw(line, col)) return;
        _tokens.Add(new Token(isOutput ? TokenKind.OutputBegin : TokenKind.StatementBegin, isOutput ? "{{" : "{%", line, col));
        char closer = isOutput ? '}' : '%';
        var brackets = new Stack<char>();
        while (true)
        {
            SkipSpaces();
            if (_pos >= _src.Length) throw new ChatTemplateException(isOutput ? "unterminated '{{'" : "unterminated '{%'", line, col);
            char c = _src[_pos];
            char rmod = '\0';
            int endAt = -1;
            if ((c == '-' || c == '+') && At(_pos + 1, closer) && At(_pos + 2, '}')) { rmod = c; endAt = _pos + 1; }
            else if (c == closer && At(_pos + 1, '}') && brackets.Count == 0) endAt = _pos;
            if (endAt >= 0)
            {
                _tokens.Add(new Token(isOutput ? TokenKind.OutputEnd : TokenKind.StatementEnd, isOutput ? "}}" : "%}", _line, _pos - _lineStart + 1));
                Advance(endAt + 2);
                AfterTagEnd(rmod, isBlock: !isOutput);
                return;
            }
            if (c is '{' or '[' or '(') brackets.Push(c switch { '{' => '}', '[' => ']', _ => ')' });
            else if (c is '}' or ']' or ')')
            {
                // Like Jinja, a closer that does not match the innermost opener is an error here, not at end of input.
                if (brackets.Count == 0 || brackets.Peek() != c) throw Error($"unexpected '{c}'");
                brackets.Pop();
            }
            LexExpressionToken();
        }
    }

    /// <summary><c>{% raw %}...{% endraw %}</c> is emitted as plain text.</summary>
    private bool TryLexRaw(int line, int col)
    {
        int p = _pos;
        while (p < _src.Length && char.IsWhiteSpace(_src[p])) p++;
        if (string.CompareOrdinal(_src, p, "raw", 0, 3) != 0) return false;
        p += 3;
        while (p < _src.Length && char.IsWhiteSpace(_src[p])) p++;
        char rmod = '\0';
        if (p < _src.Length && (_src[p] == '-' || _src[p] == '+')) rmod = _src[p++];
        if (string.CompareOrdinal(_src, p, "%}", 0, 2) != 0) return false;
        Advance(p + 2);
        AfterTagEnd(rmod, isBlock: true);
        int close = _src.IndexOf("endraw", _pos, StringComparison.Ordinal);
        int open = close < 0 ? -1 : _src.LastIndexOf("{%", close, StringComparison.Ordinal);
        if (open < _pos) throw new ChatTemplateException("missing '{% endraw %}'", line, col);
        string body = _src[_pos..open];
        if (open + 2 < _src.Length && _src[open + 2] == '-') body = body.TrimEnd();
        if (body.Length > 0) _tokens.Add(new Token(TokenKind.Text, body, _line, _pos - _lineStart + 1));
        int end = _src.IndexOf("%}", close, StringComparison.Ordinal);
        if (end < 0) throw new ChatTemplateException("unterminated '{% endraw'", line, col);
        rmod = _src[end - 1] is '-' or '+' ? _src[end - 1] : '\0';
        Advance(end + 2);
        AfterTagEnd(rmod, isBlock: true);
        return true;
    }

    private void AfterTagEnd(char rmod, bool isBlock)
    {
        if (rmod == '-')
        {
            int p = _pos;
            while (p < _src.Length && char.IsWhiteSpace(_src[p])) p++;
            Advance(p);
        }
        else if (rmod != '+' && isBlock && At(_pos, '\n'))
        {
            Advance(_pos + 1); // trim_blocks
        }
    }

    private bool At(int i, char c) => i < _src.Length && _src[i] == c;

    private void SkipSpaces()
    {
        int p = _pos;
        while (p < _src.Length && char.IsWhiteSpace(_src[p])) p++;
        Advance(p);
    }

    private static readonly string[] Operators =
    {
        "**", "//", "==", "!=", "<=", ">=",
        "+", "-", "*", "/", "%", "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "=", ";",
    };

    private void LexExpressionToken()
    {
        int line = _line, col = _pos - _lineStart + 1;
        char c = _src[_pos];
        if (char.IsLetter(c) || c == '_')
        {
            int p = _pos;
            while (p < _src.Length && (char.IsLetterOrDigit(_src[p]) || _src[p] == '_')) p++;
            _tokens.Add(new Token(TokenKind.Name, _src[_pos..p], line, col));
            Advance(p);
            return;
        }
        if (char.IsAsciiDigit(c))
        {
            LexNumber(line, col);
            return;
        }
        if (c == '\'' || c == '"')
        {
            LexString(line, col);
            return;
        }
        foreach (var op in Operators)
        {
            if (string.CompareOrdinal(_src, _pos, op, 0, op.Length) == 0)
            {
                _tokens.Add(new Token(TokenKind.Operator, op, line, col));
                Advance(_pos + op.Length);
                return;
            }
        }
        throw Error($"unexpected character '{c}'");
    }

    private void LexNumber(int line, int col)
    {
        int p = _pos;
        bool isFloat = false;
        while (p < _src.Length && (char.IsAsciiDigit(_src[p]) || _src[p] == '_')) p++;
        if (p + 1 < _src.Length && _src[p] == '.' && char.IsAsciiDigit(_src[p + 1]))
        {
            isFloat = true;
            p++;
            while (p < _src.Length && (char.IsAsciiDigit(_src[p]) || _src[p] == '_')) p++;
        }
        if (p < _src.Length && (_src[p] == 'e' || _src[p] == 'E'))
        {
            int q = p + 1;
            if (q < _src.Length && (_src[q] == '+' || _src[q] == '-')) q++;
            if (q < _src.Length && char.IsAsciiDigit(_src[q]))
            {
                isFloat = true;
                p = q;
                while (p < _src.Length && char.IsAsciiDigit(_src[p])) p++;
            }
        }
        string text = _src[_pos..p].Replace("_", "");
        if (!isFloat && !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            throw Error($"integer literal '{text}' is too large");
        _tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, text, line, col));
        Advance(p);
    }

    private void LexString(int line, int col)
    {
        char quote = _src[_pos];
        var sb = new StringBuilder();
        int p = _pos + 1;
        while (true)
        {
            if (p >= _src.Length) throw new ChatTemplateException("unterminated string literal", line, col);
            char c = _src[p];
            if (c == quote) { p++; break; }
            if (c != '\\') { sb.Append(c); p++; continue; }
            if (p + 1 >= _src.Length) throw new ChatTemplateException("unterminated string literal", line, col);
            char e = _src[p + 1];
            p += 2;
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case 'a': sb.Append('\a'); break;
                case '0': sb.Append('\0'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case '\n': break; // line continuation
                case 'x': sb.Append(HexEscape(ref p, 2, line, col)); break;
                case 'u': sb.Append(HexEscape(ref p, 4, line, col)); break;
                case 'U': sb.Append(HexEscape(ref p, 8, line, col)); break;
                default: sb.Append('\\').Append(e); break; // Python keeps unknown escapes verbatim
            }
        }
        _tokens.Add(new Token(TokenKind.String, sb.ToString(), line, col));
        Advance(p);
    }

    private string HexEscape(ref int p, int digits, int line, int col)
    {
        if (p + digits > _src.Length || !int.TryParse(_src.AsSpan(p, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int cp)
            || cp > 0x10FFFF)
            throw new ChatTemplateException("invalid escape in string literal", line, col);
        p += digits;
        return char.ConvertFromUtf32(cp);
    }
}
