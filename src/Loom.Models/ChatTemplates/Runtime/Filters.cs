using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>
/// Jinja filters (<c>value | name(args)</c>): the built-ins chat templates use, Hugging Face's <c>tojson</c>, and
/// a few Python string methods as filters. Sequence filters are in <c>Filters.Collections.cs</c>.
/// </summary>
internal static partial class Filters
{
    public static bool Exists(string name) => Names.Contains(name);

    private static readonly HashSet<string> Names = new()
    {
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "format",
        "indent", "int", "items", "join", "keys", "last", "length", "list", "lower", "lstrip", "map", "max", "min", "reject",
        "rejectattr", "replace", "reverse", "round", "rstrip", "safe", "select", "selectattr", "slice", "sort", "split", "string",
        "strip", "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "values", "wordcount",
    };

    public static object? Apply(Interpreter interpreter, string name, object? value, Arguments args)
    {
        switch (name)
        {
            case "safe": return value;
            case "string": return Values.ToStr(value);
            case "length" or "count": return Values.Length(value);
            case "default" or "d":
            {
                bool boolean = Values.IsTruthy(args.Get(1, "boolean", false));
                bool useDefault = value is Undefined || (boolean && !Values.IsTruthy(value));
                return useDefault ? args.Get(0, "default_value", "") : value;
            }
            case "trim" or "strip": return Methods.Strip(Text(value), args.Get(0, "chars"), true, true);
            case "lstrip": return Methods.Strip(Text(value), args.Get(0, "chars"), true, false);
            case "rstrip": return Methods.Strip(Text(value), args.Get(0, "chars"), false, true);
            case "upper": return Text(value).ToUpperInvariant();
            case "lower": return Text(value).ToLowerInvariant();
            case "capitalize": return Methods.Capitalize(Text(value));
            case "title": return JinjaTitle(Text(value));
            case "replace":
                return Methods.Replace(Text(value), Methods.Str(args.Get(0, "old")), Methods.Str(args.Get(1, "new")),
                    args.Get(2, "count") is null ? -1 : Methods.ToInt(args.Get(2, "count")));
            case "split": return Methods.Split(Text(value), args.Get(0, "sep"), Methods.ToInt(args.Get(1, "maxsplit", -1L)));
            case "indent": return Indent(Text(value), args);
            case "center": return Methods.Pad(Text(value), new Arguments([args.Get(0, "width", 80L)], []), Methods.PadKind.Center);
            case "truncate": return Truncate(Text(value), args);
            case "wordcount": return (long)Regex.Matches(Text(value), @"\w+").Count;
            case "escape" or "e": return Escape(Text(value));
            case "format": return PercentFormat.Format(Text(value), args.Positional);
            case "int": return ToInt(value, args.Get(0, "default", 0L));
            case "float": return ToFloat(value, args.Get(0, "default", 0.0));
            case "abs":
                return value switch
                {
                    long l => (object)Math.Abs(l),
                    double d => Math.Abs(d),
                    bool b => b ? 1L : 0L,
                    _ => throw new ChatTemplateException($"bad operand type for abs(): '{Values.TypeName(value)}'"),
                };
            case "round": return Round(value, args);
            case "tojson":
                // transformers' signature: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
                return JsonWriter.Serialize(value, new JsonWriter.Options(
                    EnsureAscii: Values.IsTruthy(args.Get(0, "ensure_ascii", false)),
                    Indent: args.Get(1, "indent") switch { long n => new string(' ', (int)Math.Clamp(n, 0, 64)), string s => s, _ => null },
                    Separators: args.Get(2, "separators") is List<object?> { Count: 2 } sep ? (Values.ToStr(sep[0]), Values.ToStr(sep[1])) : null,
                    SortKeys: Values.IsTruthy(args.Get(3, "sort_keys", false))));
            case "attr": return Interpreter.GetAttribute(value, Methods.Str(args.Get(0, "name")));
            default: return ApplyCollection(interpreter, name, value, args);
        }
    }

    /// <summary>Filters that expect a string convert other values with <c>str()</c>, as Jinja's <c>soft_str</c> does.</summary>
    private static string Text(object? value) => Values.ToStr(value);

    /// <summary>Jinja's <c>title</c> filter: words start after spaces, dashes, and opening brackets.</summary>
    private static string JinjaTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool wordStart = true;
        foreach (char c in s)
        {
            sb.Append(wordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            wordStart = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
        }
        return sb.ToString();
    }

    /// <summary>Jinja's <c>truncate(length=255, killwords=false, end='...', leeway=5)</c>: cut at a word boundary unless killwords.</summary>
    private static string Truncate(string s, Arguments args)
    {
        int length = Methods.ToInt(args.Get(0, "length", 255L));
        bool killWords = Values.IsTruthy(args.Get(1, "killwords", false));
        string end = Methods.Str(args.Get(2, "end", "..."));
        int leeway = Methods.ToInt(args.Get(3, "leeway", 5L));
        if (length < end.Length) throw new ChatTemplateException($"expected length >= {end.Length}, got {length}");
        if (leeway < 0) throw new ChatTemplateException($"expected leeway >= 0, got {leeway}");
        if (s.Length <= length + (long)leeway) return s;
        string head = s[..(length - end.Length)];
        if (!killWords && head.LastIndexOf(' ') is int space and >= 0) head = head[..space];
        return head + end;
    }

    private static string Indent(string s, Arguments args)
    {
        var width = args.Get(0, "width", 4L);
        string pad = width is string w ? w : new string(' ', Methods.ToInt(width));
        bool first = Values.IsTruthy(args.Get(1, "first", false));
        bool blank = Values.IsTruthy(args.Get(2, "blank", false));
        // Jinja appends a newline before splitting so that a trailing newline survives.
        var lines = (s + "\n").Replace("\r\n", "\n").Split('\n').ToList();
        lines.RemoveAt(lines.Count - 1);
        string result;
        if (blank)
        {
            result = string.Join("\n" + pad, lines);
        }
        else
        {
            result = lines[0];
            if (lines.Count > 1)
                result += "\n" + string.Join("\n", lines.Skip(1).Select(l => l.Length > 0 ? pad + l : l));
        }
        return first ? pad + result : result;
    }

    private static string Escape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    private static object? ToInt(object? value, object? fallback)
    {
        switch (value)
        {
            case long l: return l;
            case bool b: return b ? 1L : 0L;
            case double d when !double.IsNaN(d) && !double.IsInfinity(d): return (long)Math.Truncate(d);
            case string s:
                s = s.Trim().Replace("_", "");
                if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long li)) return li;
                if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double ld) && !double.IsInfinity(ld))
                    return (long)Math.Truncate(ld);
                return fallback;
            default: return fallback;
        }
    }

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        long l => (double)l,
        double d => d,
        bool b => b ? 1.0 : 0.0,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
        _ => fallback,
    };

    private static object? Round(object? value, Arguments args)
    {
        double x = Values.ToDouble(value);
        int precision = Methods.ToInt(args.Get(0, "precision", 0L));
        string method = Methods.Str(args.Get(1, "method", "common"));
        double scale = Math.Pow(10, precision);
        double r = method switch
        {
            // Jinja's "common" is Python's round(): halves go to the even neighbour.
            "common" => Math.Round(x, Math.Clamp(precision, 0, 15), MidpointRounding.ToEven),
            "floor" => Math.Floor(x * scale) / scale,
            "ceil" => Math.Ceiling(x * scale) / scale,
            _ => throw new ChatTemplateException("round method must be 'common', 'ceil' or 'floor'"),
        };
        return r;
    }
}
