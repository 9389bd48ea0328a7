using System.Text;

namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>The Python methods templates call on strings and dicts (<c>s.strip()</c>, <c>d.items()</c>, ...).</summary>
internal static partial class Methods
{
    public static bool TryInvoke(object? target, string name, Arguments args, out object? result)
    {
        result = target switch
        {
            string s => StringMethod(s, name, args),
            PyDict d => DictMethod(d, name, args),
            List<object?> l => ListMethod(l, name, args),
            _ => NotFound,
        };
        return !ReferenceEquals(result, NotFound);
    }

    private static readonly object NotFound = new();

    private static object? StringMethod(string s, string name, Arguments args)
    {
        switch (name)
        {
            case "strip": return Strip(s, args.Get(0, "chars"), true, true);
            case "lstrip": return Strip(s, args.Get(0, "chars"), true, false);
            case "rstrip": return Strip(s, args.Get(0, "chars"), false, true);
            case "upper": return s.ToUpperInvariant();
            case "lower": return s.ToLowerInvariant();
            case "title": return PyTitle(s);
            case "capitalize": return Capitalize(s);
            case "split": return Split(s, args.Get(0, "sep"), ToInt(args.Get(1, "maxsplit", -1L)));
            case "splitlines":
            {
                var lines = s.Replace("\r\n", "\n").Split('\n').Select(x => (object?)x).ToList();
                if (s.Length == 0 || s.EndsWith('\n')) lines.RemoveAt(lines.Count - 1);
                return lines;
            }
            case "startswith": return Affix(s, args.Get(0, "prefix"), s.StartsWith);
            case "endswith": return Affix(s, args.Get(0, "suffix"), s.EndsWith);
            case "replace":
                return Replace(s, Str(args.Get(0, "old")), Str(args.Get(1, "new")), ToInt(args.Get(2, "count", -1L)));
            case "find": return (long)s.IndexOf(Str(args.Get(0, "sub")), StringComparison.Ordinal);
            case "rfind": return (long)s.LastIndexOf(Str(args.Get(0, "sub")), StringComparison.Ordinal);
            case "count":
            {
                string sub = Str(args.Get(0, "sub"));
                if (sub.Length == 0) return (long)s.Length + 1;
                long n = 0;
                for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
                return n;
            }
            case "join": return Operators.CheckLength(string.Join(s, Values.Iterate(args.Get(0, "iterable")).Select(Str)));
            case "isdigit": return s.Length > 0 && s.All(char.IsDigit);
            case "isalpha": return s.Length > 0 && s.All(char.IsLetter);
            case "isspace": return s.Length > 0 && s.All(char.IsWhiteSpace);
            case "islower": return s.Any(char.IsLetter) && !s.Any(char.IsUpper);
            case "isupper": return s.Any(char.IsLetter) && !s.Any(char.IsLower);
            default: return MoreStringMethods(s, name, args);
        }
    }

    private static object? DictMethod(PyDict d, string name, Arguments args)
    {
        switch (name)
        {
            case "get":
                return Interpreter.GetItem(d, args.Get(0, "key")) is var v and not Undefined ? v : args.Get(1, "default");
            case "items":
                return d.Select(kv => (object?)new PyTuple { PyDict.Value(kv.Key), kv.Value }).ToList();
            case "keys":
                return d.Keys.Select(PyDict.Value).ToList();
            case "values":
                return d.Values.ToList();
            default:
                return NotFound;
        }
    }

    private static object? ListMethod(List<object?> l, string name, Arguments args)
    {
        switch (name)
        {
            case "index":
                var needle = args.Get(0, "value");
                for (int i = 0; i < l.Count; i++)
                    if (Values.PyEquals(l[i], needle)) return (long)i;
                throw new ChatTemplateException($"{Values.Repr(needle)} is not in list");
            case "count":
                return (long)l.Count(x => Values.PyEquals(x, args.Get(0, "value")));
            default:
                return NotFound;
        }
    }

    internal static string Str(object? v) => v is string s ? s : Values.ToStr(v);

    internal static int ToInt(object? v) => v switch
    {
        long l => (int)Math.Clamp(l, int.MinValue, int.MaxValue),
        bool b => b ? 1 : 0,
        null => -1,
        _ => throw new ChatTemplateException($"an integer is required, got {Values.TypeName(v)}"),
    };

    internal static string Strip(string s, object? chars, bool left, bool right)
    {
        if (chars is null or Undefined)
        {
            if (left) s = s.TrimStart();
            if (right) s = s.TrimEnd();
            return s;
        }
        var set = Str(chars).ToCharArray();
        if (left) s = s.TrimStart(set);
        if (right) s = s.TrimEnd(set);
        return s;
    }

    /// <summary>Python <c>str.split</c>: no separator splits on whitespace runs and drops empty pieces.</summary>
    internal static List<object?> Split(string s, object? sep, int maxsplit)
    {
        var result = new List<object?>();
        if (sep is null or Undefined)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxsplit >= 0 && result.Count == maxsplit)
                {
                    result.Add(s[i..]); // Python keeps the rest's trailing whitespace
                    break;
                }
                int start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i])) i++;
                result.Add(s[start..i]);
            }
            return result;
        }
        string separator = Str(sep);
        if (separator.Length == 0) throw new ChatTemplateException("empty separator");
        int pos = 0;
        while (maxsplit < 0 || result.Count < maxsplit)
        {
            int next = s.IndexOf(separator, pos, StringComparison.Ordinal);
            if (next < 0) break;
            result.Add(s[pos..next]);
            pos = next + separator.Length;
        }
        result.Add(s[pos..]);
        return result;
    }

    private static bool Affix(string s, object? affix, Func<string, StringComparison, bool> test) => affix switch
    {
        string a => test(a, StringComparison.Ordinal),
        List<object?> options => options.Any(o => o is string a && test(a, StringComparison.Ordinal)),
        _ => throw new ChatTemplateException($"startswith/endswith needs a string or tuple, not {Values.TypeName(affix)}"),
    };

    internal static string Replace(string s, string oldValue, string newValue, int count)
    {
        if (count < 0)
            return Operators.CheckLength(oldValue.Length == 0 ? InsertEverywhere(s, newValue, int.MaxValue) : s.Replace(oldValue, newValue, StringComparison.Ordinal));
        if (oldValue.Length == 0) return InsertEverywhere(s, newValue, count);
        var sb = new StringBuilder();
        int pos = 0;
        for (int n = 0; n < count; n++)
        {
            int next = s.IndexOf(oldValue, pos, StringComparison.Ordinal);
            if (next < 0) break;
            sb.Append(s, pos, next - pos).Append(newValue);
            pos = next + oldValue.Length;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    private static string InsertEverywhere(string s, string insert, int count)
    {
        var sb = new StringBuilder();
        int n = 0;
        for (int i = 0; i <= s.Length; i++)
        {
            if (n++ < count) sb.Append(insert);
            if (i < s.Length) sb.Append(s[i]);
        }
        return sb.ToString();
    }

    /// <summary>Python <c>str.title</c>: a letter after a non-letter is upper-cased, others lower-cased.</summary>
    internal static string PyTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool prevCased = false;
        foreach (char c in s)
        {
            sb.Append(prevCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            prevCased = char.IsLetter(c);
        }
        return sb.ToString();
    }

    internal static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
}
