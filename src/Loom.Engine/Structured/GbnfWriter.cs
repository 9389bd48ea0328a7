using System.Text;

namespace Loom.Engine.Structured;

/// <summary>
/// Writes grammar expressions as GBNF text. In JSON-string mode every character is written the way it must appear
/// inside a JSON string: <c>"</c> and <c>\</c> escaped, control characters as <c>\n</c>-style or <c>\u00XX</c> escapes,
/// everything else as itself (so a regex over a string's value becomes a grammar over its JSON text).
/// </summary>
internal static class GbnfWriter
{
    /// <summary>A GBNF string literal for <paramref name="s"/>.</summary>
    public static string Literal(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (var r in s.EnumerateRunes()) AppendChar(sb, r.Value, inClass: false);
        return sb.Append('"').ToString();
    }

    /// <summary>A JSON string's text (with quotes) for <paramref name="s"/>: only <c>"</c>, <c>\</c> and control characters escaped.</summary>
    public static string JsonQuote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4"));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    public static void AppendChar(StringBuilder sb, int cp, bool inClass)
    {
        switch (cp)
        {
            case '"': sb.Append("\\\""); return;
            case '\\': sb.Append("\\\\"); return;
            case '\n': sb.Append("\\n"); return;
            case '\r': sb.Append("\\r"); return;
            case '\t': sb.Append("\\t"); return;
        }
        if (inClass && cp is ']' or '[' or '^' or '-') { sb.Append('\\').Append((char)cp); return; }
        if (cp < 0x20 || cp == 0x7F) { sb.Append("\\x").Append(cp.ToString("X2")); return; }
        if (cp is >= 0x80 and <= 0xFFFF && (char.IsControl((char)cp) || char.IsWhiteSpace((char)cp) || cp is >= 0xE000 and <= 0xF8FF)) { sb.Append("\\u").Append(cp.ToString("X4")); return; }
        if (cp > 0xFFFF) { sb.Append("\\U").Append(cp.ToString("X8")); return; }
        sb.Append((char)cp);
    }

    /// <summary>A GBNF character class for <paramref name="set"/>.</summary>
    public static string Class(CodePointSet set)
    {
        var sb = new StringBuilder("[");
        foreach (var (lo, hi) in set.Ranges)
        {
            AppendChar(sb, lo, inClass: true);
            if (hi > lo)
            {
                if (hi > lo + 1) sb.Append('-');
                AppendChar(sb, hi, inClass: true);
            }
        }
        return sb.Append(']').ToString();
    }

    /// <summary>Writes <paramref name="n"/> as a GBNF expression; with <paramref name="jsonString"/>, as the JSON text of its characters.</summary>
    public static string Write(GNode n, bool jsonString)
    {
        var sb = new StringBuilder();
        Write(sb, n, jsonString);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, GNode n, bool json)
    {
        switch (n)
        {
            case GLiteral lit:
            {
                var s = Encoding.UTF8.GetString(lit.Bytes);
                sb.Append(Literal(json ? JsonQuote(s)[1..^1] : s));
                break;
            }
            case GChars chars:
                sb.Append(json ? JsonClass(chars.Set) : Class(chars.Set));
                break;
            case GSeq seq:
                if (seq.Items.Length == 0) { sb.Append("\"\""); break; }
                sb.Append('(');
                for (int i = 0; i < seq.Items.Length; i++)
                {
                    if (i > 0) sb.Append(' ');
                    Write(sb, seq.Items[i], json);
                }
                sb.Append(')');
                break;
            case GAlt alt:
                sb.Append('(');
                for (int i = 0; i < alt.Options.Length; i++)
                {
                    if (i > 0) sb.Append(" | ");
                    Write(sb, alt.Options[i], json);
                }
                sb.Append(')');
                break;
            case GRepeat rep:
                sb.Append('(');
                Write(sb, rep.Item, json);
                sb.Append(')');
                if (rep.Min == 0 && rep.Max == -1) sb.Append('*');
                else if (rep.Min == 1 && rep.Max == -1) sb.Append('+');
                else if (rep.Min == 0 && rep.Max == 1) sb.Append('?');
                else if (rep.Max == -1) sb.Append('{').Append(rep.Min).Append(",}");
                else if (rep.Min == rep.Max) sb.Append('{').Append(rep.Min).Append('}');
                else sb.Append('{').Append(rep.Min).Append(',').Append(rep.Max).Append('}');
                break;
            case GRef r:
                sb.Append(r.Name);
                break;
            default: throw new InvalidOperationException(n.GetType().Name);
        }
    }

    /// <summary>One character of <paramref name="set"/> as it appears inside a JSON string.</summary>
    public static string JsonClass(CodePointSet set)
    {
        var specials = CodePointSet.Of((0, 0x1F), ('"', '"'), ('\\', '\\'));
        var raw = set.Minus(specials);
        var options = new List<string>();
        if (!raw.IsEmpty) options.Add(Class(raw));
        if (set.Contains('"')) options.Add("\"\\\\\\\"\"");
        if (set.Contains('\\')) options.Add("\"\\\\\\\\\"");
        var shortForms = new Dictionary<int, char> { ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't', ['\b'] = 'b', ['\f'] = 'f' };
        var shortChars = new StringBuilder();
        var hex0 = new StringBuilder();
        var hex1 = new StringBuilder();
        for (int c = 0; c < 0x20; c++)
        {
            if (!set.Contains(c)) continue;
            if (shortForms.TryGetValue(c, out char s)) shortChars.Append(s);
            else (c < 0x10 ? hex0 : hex1).Append("0123456789abcdef"[c & 15]);
        }
        if (shortChars.Length > 0) options.Add($"\"\\\\\" [{shortChars}]");
        if (hex0.Length > 0) options.Add($"\"\\\\u000\" [{hex0}]");
        if (hex1.Length > 0) options.Add($"\"\\\\u001\" [{hex1}]");
        if (options.Count == 0) return "[]";
        return options.Count == 1 ? options[0] : "(" + string.Join(" | ", options) + ")";
    }
}
