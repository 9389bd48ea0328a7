using System.Globalization;
using System.Text;

namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>
/// Python's <c>str.format</c>: fields <c>{}</c>, <c>{0}</c> and <c>{name}</c> (with <c>.attr</c> and <c>[key]</c>
/// lookups), <c>!s</c>/<c>!r</c>, and the format spec <c>[[fill]align][sign][0][width][.precision][type]</c> with the
/// types s, d, f, F, e, E, x, X, o, b and %.
/// </summary>
internal static class StrFormat
{
    public static string Format(string format, Arguments args)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c == '}')
            {
                if (i + 1 < format.Length && format[i + 1] == '}') { sb.Append('}'); i++; continue; }
                throw new ChatTemplateException("Single '}' encountered in format string");
            }
            if (c != '{') { sb.Append(c); continue; }
            if (i + 1 < format.Length && format[i + 1] == '{') { sb.Append('{'); i++; continue; }
            int close = format.IndexOf('}', i + 1);
            if (close < 0) throw new ChatTemplateException("Single '{' encountered in format string");
            string field = format[(i + 1)..close];
            i = close;

            string spec = "";
            int colon = field.IndexOf(':');
            if (colon >= 0) { spec = field[(colon + 1)..]; field = field[..colon]; }
            char conversion = '\0';
            int bang = field.IndexOf('!');
            if (bang >= 0)
            {
                conversion = field.Length == bang + 2 ? field[bang + 1] : throw new ChatTemplateException("expected ':' after conversion specifier");
                field = field[..bang];
            }
            object? value = Field(field, args, ref auto);
            if (conversion == 'r') value = Values.Repr(value);
            else if (conversion == 's') value = Values.ToStr(value);
            else if (conversion != '\0') throw new ChatTemplateException($"Unknown conversion specifier {conversion}");
            string text = Spec(value, spec);
            if (sb.Length + (long)text.Length > RenderLimits.MaxLength) throw new ChatTemplateException($"value longer than {RenderLimits.MaxLength} elements");
            sb.Append(text);
        }
        return sb.ToString();
    }

    private static object? Field(string field, Arguments args, ref int auto)
    {
        int end = 0;
        while (end < field.Length && field[end] is not ('.' or '['))
            end++;
        string head = field[..end];
        object? value;
        if (head.Length == 0)
            value = Positional(args, auto++);
        else if (int.TryParse(head, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            value = Positional(args, index);
        else
            value = args.Keywords.TryGetValue(head, out var v) ? v : throw new ChatTemplateException($"KeyError: '{head}'");
        while (end < field.Length)
        {
            if (field[end] == '.')
            {
                int next = end + 1;
                while (next < field.Length && field[next] is not ('.' or '[')) next++;
                value = Interpreter.GetItem(value, field[(end + 1)..next]);
                end = next;
            }
            else
            {
                int close = field.IndexOf(']', end);
                if (close < 0) throw new ChatTemplateException("Missing ']' in format string");
                string key = field[(end + 1)..close];
                value = Interpreter.GetItem(value, long.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out long k) ? k : key);
                end = close + 1;
            }
        }
        return value;
    }

    private static object? Positional(Arguments args, int index) =>
        index < args.Positional.Count ? args.Positional[index] : throw new ChatTemplateException($"Replacement index {index} out of range for positional args tuple");

    private static string Spec(object? value, string spec)
    {
        int i = 0;
        char fill = ' ', align = '\0', sign = '-';
        if (spec.Length >= 2 && spec[1] is '<' or '>' or '^' or '=') { fill = spec[0]; align = spec[1]; i = 2; }
        else if (spec.Length >= 1 && spec[0] is '<' or '>' or '^' or '=') { align = spec[0]; i = 1; }
        if (i < spec.Length && spec[i] is '+' or '-' or ' ') sign = spec[i++];
        if (i < spec.Length && spec[i] == '0')
        {
            if (align == '\0') { fill = '0'; align = '='; }
            i++;
        }
        int width = 0;
        while (i < spec.Length && char.IsAsciiDigit(spec[i]))
            width = Math.Min(width * 10 + (spec[i++] - '0'), RenderLimits.MaxLength);
        if (i < spec.Length && spec[i] == ',') throw new ChatTemplateException("thousands separators are not supported");
        int? precision = null;
        if (i < spec.Length && spec[i] == '.')
        {
            i++;
            int p = 0;
            while (i < spec.Length && char.IsAsciiDigit(spec[i])) p = Math.Min(p * 10 + (spec[i++] - '0'), 1000);
            precision = p;
        }
        char type = i < spec.Length ? spec[i++] : '\0';
        if (i != spec.Length) throw new ChatTemplateException("Invalid format specifier");

        bool numeric = value is long or double or bool && type != 's';
        string body = type switch
        {
            '\0' when value is double d && precision is int p => d.ToString("G" + Math.Max(p, 1), CultureInfo.InvariantCulture),
            '\0' or 's' => precision is int p2 && !numeric ? Cut(Values.ToStr(value), p2) : Values.ToStr(value),
            'd' => Integer(value).ToString(CultureInfo.InvariantCulture),
            'f' or 'F' => Values.ToDouble(value).ToString("F" + (precision ?? 6), CultureInfo.InvariantCulture),
            'e' or 'E' => PercentFormat.Format("%." + (precision ?? 6) + type, new List<object?> { value }),
            '%' => (Values.ToDouble(value) * 100).ToString("F" + (precision ?? 6), CultureInfo.InvariantCulture) + "%",
            'x' => Convert.ToString(Integer(value), 16),
            'X' => Convert.ToString(Integer(value), 16).ToUpperInvariant(),
            'o' => Convert.ToString(Integer(value), 8),
            'b' => Convert.ToString(Integer(value), 2),
            _ => throw new ChatTemplateException($"Unknown format code '{type}' for object of type '{Values.TypeName(value)}'"),
        };
        if (numeric && sign is '+' or ' ' && !body.StartsWith('-')) body = sign + body;
        if (body.Length >= width) return body;
        if (align == '\0') align = numeric ? '>' : '<';
        int margin = width - body.Length;
        return align switch
        {
            '<' => body + new string(fill, margin),
            '>' => new string(fill, margin) + body,
            '^' => new string(fill, margin / 2) + body + new string(fill, margin - margin / 2),
            _ => body.Length > 0 && body[0] is '-' or '+' or ' ' ? body[0] + new string(fill, margin) + body[1..] : new string(fill, margin) + body,
        };
    }

    private static string Cut(string s, int precision) => precision < s.Length ? s[..precision] : s;

    private static long Integer(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new ChatTemplateException($"Unknown format code 'd' for object of type '{Values.TypeName(v)}'"),
    };
}
