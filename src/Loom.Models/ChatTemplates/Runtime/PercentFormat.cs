using System.Globalization;
using System.Text;

namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>The <c>format</c> filter: Python's <c>"%s" % args</c> for the common conversions.</summary>
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
            char conv = format[i];
            if (conv == '%') { sb.Append('%'); continue; }
            if (next >= args.Count) throw new ChatTemplateException("not enough arguments for format string");
            var arg = args[next++];
            sb.Append(conv switch
            {
                's' => Values.ToStr(arg),
                'r' => Values.Repr(arg),
                'd' or 'i' => ((long)Values.ToDouble(arg)).ToString(CultureInfo.InvariantCulture),
                'f' => Values.ToDouble(arg).ToString("F6", CultureInfo.InvariantCulture),
                _ => throw new ChatTemplateException($"unsupported format character '{conv}'"),
            });
        }
        if (next < args.Count) throw new ChatTemplateException("not all arguments converted during string formatting");
        return sb.ToString();
    }
}
