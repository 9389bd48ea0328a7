using System.Text;

namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>
/// Python semantics for template values. Values are <c>null</c> (None), <see cref="Undefined"/>, bool, long,
/// double, string, <c>List&lt;object?&gt;</c> (lists and tuples), <c>OrderedDictionary&lt;string, object?&gt;</c>,
/// <see cref="Namespace"/>, <see cref="LoopContext"/> and <see cref="Callable"/>.
/// </summary>
internal static class Values
{
    public static bool IsTruthy(object? v) => v switch
    {
        null => false,
        Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        PyDict d => d.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new ChatTemplateException($"expected a number, got {TypeName(v)}"),
    };

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        PyDict => "dict",
        Namespace => "Namespace",
        LoopContext => "LoopContext",
        Callable => "function",
        _ => v.GetType().Name,
    };

    /// <summary>Python's <c>str(v)</c>, except that undefined prints as empty.</summary>
    public static string ToStr(object? v) => v switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(v),
    };

    /// <summary>Python's <c>repr(v)</c>.</summary>
    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v, 0);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? v, int depth)
    {
        if (depth > RenderLimits.MaxValueDepth) throw new ChatTemplateException("value is nested too deeply to print");
        switch (v)
        {
            case null: sb.Append("None"); break;
            case Undefined: break;
            case bool b: sb.Append(b ? "True" : "False"); break;
            case long l: sb.Append(l); break;
            case double d: sb.Append(PyFloat.Repr(d)); break;
            case string s: AppendStringRepr(sb, s); break;
            case List<object?> list:
                bool tuple = list is PyTuple;
                sb.Append(tuple ? '(' : '[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, list[i], depth + 1);
                }
                if (tuple && list.Count == 1) sb.Append(',');
                sb.Append(tuple ? ')' : ']');
                break;
            case PyDict dict:
                sb.Append('{');
                bool first = true;
                foreach (var (k, val) in dict)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendRepr(sb, PyDict.Value(k), depth + 1);
                    sb.Append(": ");
                    AppendRepr(sb, val, depth + 1);
                }
                sb.Append('}');
                break;
            case Namespace ns:
                sb.Append("<Namespace ");
                AppendRepr(sb, ns.Attributes, depth + 1);
                sb.Append('>');
                break;
            case Callable c: sb.Append("<function ").Append(c.Name).Append('>'); break;
            default: sb.Append(v); break;
        }
    }

    private static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2"));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append(quote);
    }

    /// <summary>Python <c>==</c>: numbers compare by value across int/float/bool, containers element-wise.</summary>
    public static bool PyEquals(object? a, object? b) => PyEquals(a, b, 0);

    private static bool PyEquals(object? a, object? b, int depth)
    {
        if (depth > RenderLimits.MaxValueDepth) throw new ChatTemplateException("values are nested too deeply to compare");
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) == ToDouble(b);
            return ToLong(a) == ToLong(b);
        }
        switch (a)
        {
            case string sa: return b is string sb && sa == sb;
            case List<object?> la:
                if (b is not List<object?> lb || la.Count != lb.Count || (la is PyTuple) != (lb is PyTuple)) return false;
                for (int i = 0; i < la.Count; i++)
                    if (!PyEquals(la[i], lb[i], depth + 1)) return false;
                return true;
            case PyDict da:
                if (b is not PyDict db || da.Count != db.Count) return false;
                foreach (var (k, v) in da)
                    if (!db.TryGetValue(k, out var w) || !PyEquals(v, w, depth + 1)) return false;
                return true;
            default: return ReferenceEquals(a, b);
        }
    }

    private static long ToLong(object v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new ChatTemplateException($"expected an integer, got {TypeName(v)}"),
    };

    /// <summary>Python ordering for <c>&lt;</c> and <c>sort</c>; raises on types Python cannot order.</summary>
    public static int Compare(object? a, object? b) => Compare(a, b, 0);

    private static int Compare(object? a, object? b, int depth)
    {
        if (depth > RenderLimits.MaxValueDepth) throw new ChatTemplateException("values are nested too deeply to compare");
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a).CompareTo(ToDouble(b));
            return ToLong(a!).CompareTo(ToLong(b!));
        }
        if (a is string sa && b is string sb) return string.CompareOrdinal(sa, sb) switch { < 0 => -1, > 0 => 1, _ => 0 };
        if (a is List<object?> la && b is List<object?> lb)
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                if (PyEquals(la[i], lb[i])) continue;
                return Compare(la[i], lb[i], depth + 1);
            }
            return la.Count.CompareTo(lb.Count);
        }
        throw new ChatTemplateException($"'<' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    /// <summary>What a for loop or list() sees: list items, dict keys, string characters; undefined is empty.</summary>
    public static IReadOnlyList<object?> Iterate(object? v) => v switch
    {
        List<object?> l => l,
        PyDict d => d.Keys.Select(PyDict.Value).ToList(),
        string s => StringElements(s),
        Undefined => Array.Empty<object?>(),
        Namespace ns => ns.Attributes.Keys.Cast<object?>().ToList(),
        _ => throw new ChatTemplateException($"'{TypeName(v)}' object is not iterable"),
    };

    /// <summary>A string's characters as Python sees them (code points, so surrogate pairs stay together).</summary>
    public static List<object?> StringElements(string s)
    {
        var result = new List<object?>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                result.Add(s.Substring(i, 2));
                i++;
            }
            else
            {
                result.Add(s[i].ToString());
            }
        }
        return result;
    }

    private static long CodePointCount(string s)
    {
        long n = s.Length;
        for (int i = 0; i + 1 < s.Length; i++)
            if (char.IsHighSurrogate(s[i]) && char.IsLowSurrogate(s[i + 1])) { n--; i++; }
        return n;
    }

    /// <summary>Python <c>len(v)</c>.</summary>
    public static long Length(object? v) => v switch
    {
        string s => CodePointCount(s),
        List<object?> l => l.Count,
        PyDict d => d.Count,
        Undefined => 0,
        Namespace ns => ns.Attributes.Count,
        _ => throw new ChatTemplateException($"object of type '{TypeName(v)}' has no len()"),
    };

    /// <summary><c>needle in haystack</c>.</summary>
    public static bool Contains(object? haystack, object? needle) => haystack switch
    {
        string s when needle is string n => s.Contains(n, StringComparison.Ordinal),
        string => throw new ChatTemplateException($"'in <string>' requires string as left operand, not {TypeName(needle)}"),
        List<object?> l => l.Any(x => PyEquals(x, needle)),
        PyDict d => Interpreter.GetItem(d, needle) is not Undefined,
        Undefined => false,
        _ => throw new ChatTemplateException($"argument of type '{TypeName(haystack)}' is not iterable"),
    };
}
