using System.Globalization;
using System.Text.Json.Nodes;

namespace Loom.Server.Tools;

/// <summary>
/// The keyword arguments of a Python call (<c>query="weather in Paris", count=3</c>), as Llama 3.1 writes built-in
/// tool calls, turned into the JSON object of the call's arguments. Values are string literals (single or double
/// quoted, with the usual escapes), numbers, <c>True</c>/<c>False</c>/<c>None</c>; anything else is not a call.
/// </summary>
internal static class PythonArguments
{
    /// <summary>The JSON text of the arguments, or null when they are not simple keyword arguments.</summary>
    public static string? ToJson(string source)
    {
        var result = new JsonObject();
        int i = 0;
        while (true)
        {
            Blanks(source, ref i);
            if (i == source.Length) return result.ToJsonString();
            int key = i;
            while (i < source.Length && (char.IsAsciiLetterOrDigit(source[i]) || source[i] == '_')) i++;
            if (i == key || char.IsAsciiDigit(source[key])) return null;
            string name = source[key..i];
            Blanks(source, ref i);
            if (i == source.Length || source[i++] != '=') return null;
            Blanks(source, ref i);
            JsonNode? value;
            if (i < source.Length && source[i] is '"' or '\'')
            {
                if (ReadString(source, ref i) is not { } text) return null;
                value = JsonValue.Create(text);
            }
            else
            {
                int start = i;
                while (i < source.Length && source[i] != ',' && !char.IsWhiteSpace(source[i])) i++;
                string token = source[start..i];
                if (token == "True") value = JsonValue.Create(true);
                else if (token == "False") value = JsonValue.Create(false);
                else if (token == "None") value = null;
                else if (long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n)) value = JsonValue.Create(n);
                else if (double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && double.IsFinite(x)) value = JsonValue.Create(x);
                else return null;
            }
            if (result.ContainsKey(name)) return null;
            result[name] = value;
            Blanks(source, ref i);
            if (i == source.Length) return result.ToJsonString();
            if (source[i++] != ',') return null;
        }
    }

    private static void Blanks(string s, ref int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
    }

    private static string? ReadString(string s, ref int i)
    {
        char quote = s[i++];
        var sb = new System.Text.StringBuilder();
        while (i < s.Length)
        {
            char c = s[i++];
            if (c == quote) return sb.ToString();
            if (c != '\\') { sb.Append(c); continue; }
            if (i == s.Length) return null;
            char e = s[i++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '\\': case '\'': case '"': sb.Append(e); break;
                default: sb.Append('\\').Append(e); break;
            }
        }
        return null;
    }
}
