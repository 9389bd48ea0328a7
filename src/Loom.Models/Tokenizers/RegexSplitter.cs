using System.Text;
using System.Text.RegularExpressions;

namespace Loom.Models.Tokenizers;

/// <summary>
/// One pre-tokenizer pattern run the way llama.cpp runs patterns it has no hand-written matcher for:
/// an ECMAScript regex over one symbol per code point. Patterns with \p{..} see the "collapsed" text, where each
/// non-ASCII code point becomes a stand-in for its category (0xD1 N, 0xD2 L, 0xD3 P, 0xD4 M, 0xD5 S, 0xD0 other,
/// 0x0B whitespace); others see the code points themselves with non-ASCII whitespace turned into 0x0B.
/// .NET regexes work on UTF-16, so astral code points are renamed to single surrogate units, one per interval
/// the pattern can tell apart, which keeps every class test exact.
/// </summary>
internal sealed class RegexSplitter
{
    private static readonly string[] Categories = ["\\p{N}", "\\p{L}", "\\p{P}", "\\p{M}", "\\p{S}"];

    private readonly Regex _regex;
    private readonly bool _collapsed;
    private readonly int[] _astralBounds; // sorted interval starts, renamed to 0xD800 + index

    public RegexSplitter(string pattern)
    {
        Pattern = pattern;
        _collapsed = Categories.Any(pattern.Contains);
        var cps = UnicodeFlags.CodePoints(pattern);
        _astralBounds = _collapsed ? [] : AstralBounds(cps);
        if (_astralBounds.Length > 2048) throw new ArgumentException($"pattern has too many astral ranges: {pattern}");
        _regex = new Regex(Translate(cps), RegexOptions.CultureInvariant);
    }

    public string Pattern { get; }

    /// <summary>Splits every chunk (lengths in code points) further; unmatched stretches become pieces of their own.</summary>
    public List<int> Split(int[] cpts, List<int> chunks)
    {
        var result = new List<int>(chunks.Count);
        int start = 0;
        foreach (int chunk in chunks)
        {
            var text = Symbols(cpts.AsSpan(start, chunk));
            int last = 0;
            for (var m = _regex.Match(text); m.Success; m = m.NextMatch())
            {
                if (m.Index > last) result.Add(m.Index - last);
                if (m.Length > 0) result.Add(m.Length);
                last = m.Index + m.Length;
            }
            if (last < chunk) result.Add(chunk - last);
            start += chunk;
        }
        return result;
    }

    private string Symbols(ReadOnlySpan<int> cpts)
    {
        return string.Create(cpts.Length, (this, cpts.ToArray()), static (dst, state) =>
        {
            var (self, src) = state;
            for (int i = 0; i < src.Length; i++) dst[i] = self.Symbol(src[i]);
        });
    }

    private char Symbol(int cp)
    {
        if (cp < 0x80) return (char)cp;
        ushort f = UnicodeFlags.Get(cp);
        if ((f & UnicodeFlags.Whitespace) != 0) return '\u000B';
        if (_collapsed)
        {
            return (f & UnicodeFlags.CategoryMask) switch
            {
                UnicodeFlags.Number => '\u00D1',
                UnicodeFlags.Letter => '\u00D2',
                UnicodeFlags.Punctuation => '\u00D3',
                UnicodeFlags.AccentMark => '\u00D4',
                UnicodeFlags.Symbol => '\u00D5',
                _ => '\u00D0',
            };
        }
        return cp < 0x10000 ? (char)cp : RenameAstral(cp);
    }

    private char RenameAstral(int cp)
    {
        int i = Array.BinarySearch(_astralBounds, cp);
        if (i < 0) i = ~i - 1;
        return (char)(0xD800 + i);
    }

    private static int[] AstralBounds(int[] cps)
    {
        var set = new SortedSet<int> { 0x10000 };
        foreach (int c in cps)
            if (c >= 0x10000) { set.Add(c); if (c + 1 < UnicodeFlags.MaxCodePoint) set.Add(c + 1); }
        return [.. set];
    }

    /// <summary>ECMAScript pattern to .NET: ASCII-only \s, $ only at the very end, categories as stand-in classes.</summary>
    private string Translate(int[] p)
    {
        var sb = new StringBuilder();
        bool inside = false;
        for (int i = 0; i < p.Length; i++)
        {
            int c = p[i];
            if (c == '[' && (i == 0 || p[i - 1] != '\\')) { inside = true; sb.Append('['); continue; }
            if (inside && c == ']' && p[i - 1] != '\\') { inside = false; sb.Append(']'); continue; }
            if (c == '\\' && i + 1 < p.Length)
            {
                int n = p[i + 1];
                if (n == 'p' && i + 4 < p.Length && p[i + 2] == '{' && p[i + 4] == '}')
                {
                    string members = p[i + 3] switch
                    {
                        'N' => "\\u00D10-9",
                        'L' => "\\u00D2A-Za-z",
                        'P' => "\\u00D3!-#%-*,-/:;?@\\[-\\]_\\{\\}",
                        'M' => "\\u00D4",
                        'S' => "\\u00D5\\$\\+<->\\^`\\|",
                        _ => throw new ArgumentException($"unsupported category in pattern {Pattern}"),
                    };
                    sb.Append(inside ? members : "[" + members + "]");
                    i += 4;
                    continue;
                }
                if (n == 's') { sb.Append(inside ? "\\t\\n\\v\\f\\r " : "[\\t\\n\\v\\f\\r ]"); i++; continue; }
                if (n == 'S') { sb.Append(inside ? throw new ArgumentException("\\S inside a class") : "[^\\t\\n\\v\\f\\r ]"); i++; continue; }
                sb.Append('\\');
                AppendChar(sb, n);
                i++;
                continue;
            }
            if (c == '$' && !inside) { sb.Append("(?![\\s\\S])"); continue; }
            AppendChar(sb, c);
        }
        return sb.ToString();
    }

    private void AppendChar(StringBuilder sb, int c)
    {
        if (c < 0x80) { sb.Append((char)c); return; }
        int unit = c < 0x10000 ? c : RenameAstral(c);
        sb.Append("\\u").Append(unit.ToString("X4"));
    }
}
