using System.Globalization;
using System.Text;

namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>Python's <c>strftime</c> for the directives chat templates use (C locale names).</summary>
internal static class Strftime
{
    public static string Format(DateTime t, string format)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length) { sb.Append(format[i]); continue; }
            char d = format[++i];
            sb.Append(d switch
            {
                'd' => t.Day.ToString("00", inv),
                'm' => t.Month.ToString("00", inv),
                'Y' => t.Year.ToString("0000", inv),
                'y' => (t.Year % 100).ToString("00", inv),
                'H' => t.Hour.ToString("00", inv),
                'I' => ((t.Hour + 11) % 12 + 1).ToString("00", inv),
                'M' => t.Minute.ToString("00", inv),
                'S' => t.Second.ToString("00", inv),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'b' => t.ToString("MMM", inv),
                'B' => t.ToString("MMMM", inv),
                'a' => t.ToString("ddd", inv),
                'A' => t.ToString("dddd", inv),
                'j' => t.DayOfYear.ToString("000", inv),
                'e' => t.Day.ToString(inv).PadLeft(2),
                '-' when i + 1 < format.Length => NoPad(t, format[++i]),
                '%' => "%",
                _ => "%" + d,
            });
        }
        return sb.ToString();
    }

    /// <summary>glibc's <c>%-d</c> style (no padding), which some templates use.</summary>
    private static string NoPad(DateTime t, char d) => d switch
    {
        'd' => t.Day.ToString(CultureInfo.InvariantCulture),
        'm' => t.Month.ToString(CultureInfo.InvariantCulture),
        'H' => t.Hour.ToString(CultureInfo.InvariantCulture),
        'M' => t.Minute.ToString(CultureInfo.InvariantCulture),
        'S' => t.Second.ToString(CultureInfo.InvariantCulture),
        _ => "%-" + d,
    };
}
