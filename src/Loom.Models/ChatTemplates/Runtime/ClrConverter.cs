using System.Collections;

namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>Turns caller-supplied .NET values (the <c>extra</c> variables) into template values.</summary>
internal static class ClrConverter
{
    public static object? FromClr(object? value, int depth = 0)
    {
        if (depth > 64) throw new ChatTemplateException("extra value is nested too deeply");
        switch (value)
        {
            case null: return null;
            case string or bool or long or double: return value;
            case int or short or sbyte or byte or ushort or uint: return Convert.ToInt64(value);
            case ulong u: return u <= long.MaxValue ? (long)u : (double)u;
            case float f: return (double)f;
            case decimal m: return (double)m;
            case char c: return c.ToString();
            case ChatMessage m:
                return new PyDict { ["role"] = m.Role, ["content"] = m.Content };
            case IDictionary<string, object?> d:
            {
                var result = new PyDict();
                foreach (var (k, v) in d) result[k] = FromClr(v, depth + 1);
                return result;
            }
            case IReadOnlyDictionary<string, object?> rd:
            {
                var result = new PyDict();
                foreach (var (k, v) in rd) result[k] = FromClr(v, depth + 1);
                return result;
            }
            case IDictionary nd:
            {
                var result = new PyDict();
                foreach (DictionaryEntry e in nd) result[PyDict.Key(FromClr(e.Key, depth + 1))] = FromClr(e.Value, depth + 1);
                return result;
            }
            case IEnumerable e:
                return e.Cast<object?>().Select(x => FromClr(x, depth + 1)).ToList();
            default:
                throw new ChatTemplateException($"cannot pass a {value.GetType().Name} to a chat template");
        }
    }
}
