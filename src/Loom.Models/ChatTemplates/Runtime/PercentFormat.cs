using System.Globalization;
using System.Text;

namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>
/// Python's printf-style formatting (<c>"%s" % args</c> and the <c>format</c> filter): conversions s, r, d, i, f, F,
/// e, E, x, X, o, c and %, with flags (<c>-+ 0</c>), width and precision.
/// </summary>
internal static class PercentFormat
{
    public static string Format(string format, IReadOnlyList<object?> args)
    {
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%') { sb.Append(c); continue; }
            if (++i >= format.Length) throw new ChatTemplateException("incomplete format");
            if (format[i] == '%') { sb.Append('%'); continue; }

            bool left = false, plus = false, space = false, zero = false;
            for (; i < format.Length && "-+ 0#".Contains(format[i]); i++)
            {
                if (format[i] == '-') left = true;
                else if (format[i] == '+') plus = true;
                else if (format[i] == ' ') space = true;
                else if (format[i] == '0') zero = true;
            }
            int width = Digits(format, ref i) ?? 0;
            int? precision = null;
            if (i < format.Length && format[i] == '.')
            {
                i++;
                precision = Digits(format, ref i) ?? 0;
            }
            if (i >= format.Length) throw new ChatTemplateException("incomplete format");
            char conv = format[i];
            if (next >= args.Count) throw new ChatTemplateException("not enough arguments for format string");
            var arg = args[next++];

            string body = conv switch
            {
                's' => Cut(Values.ToStr(arg), precision),
                'r' => Cut(Values.Repr(arg), precision),
                'd' or 'i' or 'u' => Integer(arg).ToString(CultureInfo.InvariantCulture),
                'f' or 'F' => Values.ToDouble(arg).ToString("F" + (precision ?? 6), CultureInfo.InvariantCulture),
                'e' or 'E' => Exponent(Values.ToDouble(arg), precision ?? 6, conv),
                'x' => Convert.ToString(Integer(arg), 16),
                'X' => Convert.ToString(Integer(arg), 16).ToUpperInvariant(),
                'o' => Convert.ToString(Integer(arg), 8),
                'c' => arg is string ch && ch.Length == 1 ? ch : char.ConvertFromUtf32((int)Integer(arg)),
                _ => throw new ChatTemplateException($"unsupported format character '{conv}'"),
            };
            bool numeric = conv is not ('s' or 'r' or 'c');
            if (numeric && !body.StartsWith('-') && (plus || space)) body = (plus ? "+" : " ") + body;
            if (body.Length < width)
            {
                if (left) body = body.PadRight(width);
                else if (zero && numeric)
                {
                    int sign = body.Length > 0 && body[0] is '-' or '+' or ' ' ? 1 : 0;
                    body = body[..sign] + new string('0', width - body.Length) + body[sign..];
                }
                else body = body.PadLeft(width);
            }
            if (sb.Length + (long)body.Length > RenderLimits.MaxLength) throw new ChatTemplateException($"value longer than {RenderLimits.MaxLength} elements");
            sb.Append(body);
        }
        if (next < args.Count) throw new ChatTemplateException("not all arguments converted during string formatting");
        return sb.ToString();
    }

    private static int? Digits(string s, ref int i)
    {
        int start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
        if (i == start) return null;
        return int.TryParse(s.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n <= RenderLimits.MaxLength
            ? n : throw new ChatTemplateException("format width or precision too large");
    }

    private static string Cut(string s, int? precision) => precision is int p && p < s.Length ? s[..p] : s;

    /// <summary>Python truncates floats toward zero for %d.</summary>
    private static long Integer(object? v) => v is long l ? l : v is bool b ? (b ? 1 : 0) : (long)Math.Truncate(Values.ToDouble(v));

    /// <summary>Python's <c>%e</c>: the exponent has a sign and at least two digits (1.500000e+00).</summary>
    private static string Exponent(double v, int precision, char conv)
    {
        string s = v.ToString((conv == 'e' ? "e" : "E") + precision, CultureInfo.InvariantCulture); // 1.500000e+000
        int e = s.IndexOfAny(['e', 'E']);
        int exp = int.Parse(s.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return s[..(e + 1)] + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
    }
}
