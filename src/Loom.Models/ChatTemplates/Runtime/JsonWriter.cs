using System.Text;

namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>
/// Python's <c>json.dumps</c>, which transformers' <c>tojson</c> filter calls with <c>ensure_ascii=False</c>:
/// <c>", "</c>/<c>": "</c> separators without indent, <c>","</c>/<c>": "</c> with it, non-ASCII text as is.
/// </summary>
internal static class JsonWriter
{
    /// <param name="EnsureAscii">Escape non-ASCII characters as <c>\uXXXX</c>.</param>
    /// <param name="Indent">Per-level indent text; null for a single line.</param>
    /// <param name="Separators">Item and key separators; null for Python's defaults.</param>
    /// <param name="SortKeys">Write dict keys in sorted order.</param>
    internal sealed record Options(bool EnsureAscii = false, string? Indent = null, (string Item, string Key)? Separators = null, bool SortKeys = false);

    public static string Serialize(object? value, Options options)
    {
        var sb = new StringBuilder();
        var (item, key) = options.Separators ?? (options.Indent is null ? (", ", ": ") : (",", ": "));
        new Writer(sb, options, item, key).Write(value, 0);
        return sb.ToString();
    }

    private sealed record Writer(StringBuilder Sb, Options Options, string ItemSeparator, string KeySeparator)
    {
        public void Write(object? value, int level)
        {
            if (level > RenderLimits.MaxValueDepth) throw new ChatTemplateException("value is nested too deeply for tojson");
            if (Sb.Length > RenderLimits.MaxLength) throw new ChatTemplateException("tojson output too long");
            switch (value)
            {
                case null: Sb.Append("null"); break;
                case bool b: Sb.Append(b ? "true" : "false"); break;
                case long l: Sb.Append(l); break;
                case double d:
                    Sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyFloat.Repr(d));
                    break;
                case string s: WriteString(s); break;
                case List<object?> list:
                    WriteContainer('[', ']', list.Count, level, i => Write(list[i], level + 1));
                    break;
                case PyDict dict:
                    var keys = dict.Keys.ToList();
                    if (Options.SortKeys) keys.Sort((a, b) => Values.Compare(PyDict.Value(a), PyDict.Value(b)));
                    WriteContainer('{', '}', keys.Count, level, i =>
                    {
                        WriteString(KeyText(PyDict.Value(keys[i])));
                        Sb.Append(KeySeparator);
                        Write(dict[keys[i]], level + 1);
                    });
                    break;
                default:
                    throw new ChatTemplateException($"Object of type {Values.TypeName(value)} is not JSON serializable");
            }
        }

        private void WriteContainer(char open, char close, int count, int level, Action<int> writeItem)
        {
            Sb.Append(open);
            if (count == 0)
            {
                Sb.Append(close);
                return;
            }
            for (int i = 0; i < count; i++)
            {
                if (i > 0) Sb.Append(ItemSeparator);
                if (Options.Indent is not null) NewLine(level + 1);
                writeItem(i);
            }
            if (Options.Indent is not null) NewLine(level);
            Sb.Append(close);
        }

        /// <summary>json.dumps turns non-string keys into their JSON spelling.</summary>
        private static string KeyText(object? key) => key switch
        {
            string s => s,
            null => "null",
            bool b => b ? "true" : "false",
            double d => PyFloat.Repr(d),
            long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => throw new ChatTemplateException($"keys must be str, int, float, bool or None, not {Values.TypeName(key)}"),
        };

        private void NewLine(int level)
        {
            Sb.Append('\n');
            for (int i = 0; i < level; i++) Sb.Append(Options.Indent);
        }

        private void WriteString(string s)
        {
            Sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': Sb.Append("\\\""); break;
                    case '\\': Sb.Append("\\\\"); break;
                    case '\n': Sb.Append("\\n"); break;
                    case '\r': Sb.Append("\\r"); break;
                    case '\t': Sb.Append("\\t"); break;
                    case '\b': Sb.Append("\\b"); break;
                    case '\f': Sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || (Options.EnsureAscii && c > 0x7e)) Sb.Append("\\u").Append(((int)c).ToString("x4"));
                        else Sb.Append(c);
                        break;
                }
            }
            Sb.Append('"');
        }
    }
}
