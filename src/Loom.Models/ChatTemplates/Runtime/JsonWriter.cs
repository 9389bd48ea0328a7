using System.Text;

namespace Loom.Models.ChatTemplates;

/// <summary>
/// Python's <c>json.dumps(x, ensure_ascii=False, indent=indent, sort_keys=sort_keys)</c>, which is what Hugging
/// Face's <c>tojson</c> filter calls: <c>", "</c>/<c>": "</c> separators without indent, <c>","</c> with it,
/// and non-ASCII text written as is.
/// </summary>
internal static class JsonWriter
{
    public static string Serialize(object? value, int? indent, bool sortKeys)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, sortKeys, 0);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? value, int? indent, bool sortKeys, int level)
    {
        if (level > RenderLimits.MaxValueDepth) throw new ChatTemplateException("value is nested too deeply for tojson");
        if (sb.Length > RenderLimits.MaxLength) throw new ChatTemplateException("tojson output too long");
        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l); break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyFloat.Repr(d));
                break;
            case string s: WriteString(sb, s); break;
            case List<object?> list:
                WriteContainer(sb, '[', ']', list.Count, indent, level, i => Write(sb, list[i], indent, sortKeys, level + 1));
                break;
            case OrderedDictionary<string, object?> dict:
                var keys = dict.Keys.ToList();
                if (sortKeys) keys.Sort(string.CompareOrdinal);
                WriteContainer(sb, '{', '}', keys.Count, indent, level, i =>
                {
                    WriteString(sb, keys[i]);
                    sb.Append(": ");
                    Write(sb, dict[keys[i]], indent, sortKeys, level + 1);
                });
                break;
            default:
                throw new ChatTemplateException($"Object of type {Values.TypeName(value)} is not JSON serializable");
        }
    }

    private static void WriteContainer(StringBuilder sb, char open, char close, int count, int? indent, int level, Action<int> writeItem)
    {
        sb.Append(open);
        if (count == 0)
        {
            sb.Append(close);
            return;
        }
        for (int i = 0; i < count; i++)
        {
            if (i > 0) sb.Append(indent is null ? ", " : ",");
            if (indent is not null) sb.Append('\n').Append(' ', indent.Value * (level + 1));
            writeItem(i);
        }
        if (indent is not null) sb.Append('\n').Append(' ', indent.Value * level);
        sb.Append(close);
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
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
        sb.Append('"');
    }
}
