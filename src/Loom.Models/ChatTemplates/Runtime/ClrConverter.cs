using System.Collections;
using System.Text.Json;

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
                return Message(m);
            case JsonElement json:
                return FromJson(json, depth);
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

    private static PyDict Message(ChatMessage m)
    {
        var d = new PyDict { ["role"] = m.Role, ["content"] = m.Content };
        if (m.ToolCalls is { } calls)
            d["tool_calls"] = calls.Select(c => (object?)new PyDict
            {
                ["id"] = c.Id,
                ["type"] = "function",
                ["function"] = new PyDict { ["name"] = c.Name, ["arguments"] = Arguments(c) },
            }).ToList();
        if (m.ToolCallId is { } id) d["tool_call_id"] = id;
        if (m.Name is { } name) d["name"] = name;
        return d;
    }

    /// <summary>Arguments that are not JSON are passed as the text they are (a template may still print them).</summary>
    private static object? Arguments(ChatToolCall call)
    {
        try
        {
            using var doc = JsonDocument.Parse(call.Arguments);
            return FromJson(doc.RootElement, 0);
        }
        catch (JsonException)
        {
            return call.Arguments;
        }
    }

    private static object? FromJson(JsonElement e, int depth)
    {
        if (depth > 64) throw new ChatTemplateException("JSON value is nested too deeply");
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var d = new PyDict();
                foreach (var p in e.EnumerateObject()) d[p.Name] = FromJson(p.Value, depth + 1);
                return d;
            case JsonValueKind.Array:
                return e.EnumerateArray().Select(x => FromJson(x, depth + 1)).ToList();
            case JsonValueKind.String: return e.GetString();
            case JsonValueKind.Number: return e.TryGetInt64(out long l) ? l : e.GetDouble();
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            default: return null;
        }
    }
}
