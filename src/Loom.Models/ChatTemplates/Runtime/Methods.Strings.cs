using System.Globalization;
using System.Text;

namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>The rest of Python's <c>str</c> methods templates reach for: rsplit, format, partition, padding, case.</summary>
internal static partial class Methods
{
    private static object? MoreStringMethods(string s, string name, Arguments args)
    {
        switch (name)
        {
            case "rsplit": return RSplit(s, args.Get(0, "sep"), ToInt(args.Get(1, "maxsplit", -1L)));
            case "format": return Operators.CheckLength(StrFormat.Format(s, args));
            case "partition" or "rpartition":
            {
                string sep = Str(args.Get(0, "sep"));
                if (sep.Length == 0) throw new ChatTemplateException("empty separator");
                int at = name == "partition" ? s.IndexOf(sep, StringComparison.Ordinal) : s.LastIndexOf(sep, StringComparison.Ordinal);
                if (at < 0) return name == "partition" ? new PyTuple { s, "", "" } : new PyTuple { "", "", s };
                return new PyTuple { s[..at], sep, s[(at + sep.Length)..] };
            }
            case "center": return Pad(s, args, PadKind.Center);
            case "ljust": return Pad(s, args, PadKind.Left);
            case "rjust": return Pad(s, args, PadKind.Right);
            case "zfill":
            {
                int width = ToInt(args.Get(0, "width"));
                if (s.Length >= width) return s;
                int sign = s.Length > 0 && s[0] is '+' or '-' ? 1 : 0;
                return Operators.CheckLength(s[..sign] + new string('0', width - s.Length) + s[sign..]);
            }
            case "swapcase":
                return string.Concat(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.IsLower(c) ? char.ToUpperInvariant(c) : c));
            case "casefold": return s.ToLowerInvariant();
            case "isalnum": return s.Length > 0 && s.All(char.IsLetterOrDigit);
            case "isnumeric" or "isdecimal": return s.Length > 0 && s.All(char.IsDigit);
            case "istitle": return s.Any(char.IsLetter) && PyTitle(s) == s;
            case "index" or "rindex":
            {
                string sub = Str(args.Get(0, "sub"));
                int at = name == "index" ? s.IndexOf(sub, StringComparison.Ordinal) : s.LastIndexOf(sub, StringComparison.Ordinal);
                return at >= 0 ? (long)at : throw new ChatTemplateException("substring not found");
            }
            case "removeprefix":
            {
                string prefix = Str(args.Get(0, "prefix"));
                return s.StartsWith(prefix, StringComparison.Ordinal) ? s[prefix.Length..] : s;
            }
            case "removesuffix":
            {
                string suffix = Str(args.Get(0, "suffix"));
                return suffix.Length > 0 && s.EndsWith(suffix, StringComparison.Ordinal) ? s[..^suffix.Length] : s;
            }
            default: return NotFound;
        }
    }

    /// <summary>Python <c>str.rsplit</c>: as <see cref="Split"/>, but the <paramref name="maxsplit"/> splits are taken from the right.</summary>
    internal static List<object?> RSplit(string s, object? sep, int maxsplit)
    {
        if (maxsplit < 0) return Split(s, sep, maxsplit);
        var result = new List<object?>();
        if (sep is null or Undefined)
        {
            int i = s.Length;
            while (true)
            {
                while (i > 0 && char.IsWhiteSpace(s[i - 1])) i--;
                if (i == 0) break;
                if (result.Count == maxsplit)
                {
                    result.Add(s[..i]); // Python keeps the rest's leading whitespace
                    break;
                }
                int end = i;
                while (i > 0 && !char.IsWhiteSpace(s[i - 1])) i--;
                result.Add(s[i..end]);
            }
        }
        else
        {
            string separator = Str(sep);
            if (separator.Length == 0) throw new ChatTemplateException("empty separator");
            int end = s.Length;
            while (result.Count < maxsplit && end > 0)
            {
                int at = s.LastIndexOf(separator, end - 1, StringComparison.Ordinal);
                if (at < 0 || at + separator.Length > end) break;
                result.Add(s[(at + separator.Length)..end]);
                end = at;
            }
            result.Add(s[..end]);
        }
        result.Reverse();
        return result;
    }

    internal enum PadKind { Left, Right, Center }

    /// <summary><c>ljust</c>, <c>rjust</c> and <c>center</c> (Python puts the odd space of a centred string where CPython does).</summary>
    internal static string Pad(string s, Arguments args, PadKind kind)
    {
        int width = ToInt(args.Get(0, "width"));
        string fill = Str(args.Get(1, "fillchar", " "));
        if (fill.Length != 1) throw new ChatTemplateException("The fill character must be exactly one character long");
        if (s.Length >= width) return s;
        if (width > RenderLimits.MaxLength) throw new ChatTemplateException($"value longer than {RenderLimits.MaxLength} elements");
        int margin = width - s.Length;
        int left = kind switch { PadKind.Left => 0, PadKind.Right => margin, _ => margin / 2 + (margin & width & 1) };
        return new string(fill[0], left) + s + new string(fill[0], margin - left);
    }
}
