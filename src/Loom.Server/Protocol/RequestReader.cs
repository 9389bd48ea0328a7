using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Loom.Server.Errors;
using Microsoft.AspNetCore.Http;

namespace Loom.Server.Protocol;

/// <summary>Reads a JSON request body; an empty, malformed or mistyped one is a 400 and an oversized one a 413 (Kestrel's limit).</summary>
internal static class RequestReader
{
    public static async Task<T> ReadAsync<T>(HttpContext ctx, JsonTypeInfo<T> type) where T : class
    {
        var value = await JsonSerializer.DeserializeAsync(ctx.Request.Body, type, ctx.RequestAborted);
        return value ?? throw OpenAiException.BadRequest("The request body must be a JSON object.", null, "invalid_json");
    }

    /// <summary><c>stop</c>: absent, null, a string, or a list of strings.</summary>
    public static IReadOnlyList<string> Stop(JsonElement stop) => stop.ValueKind switch
    {
        JsonValueKind.Undefined or JsonValueKind.Null => [],
        JsonValueKind.String => [stop.GetString()!],
        JsonValueKind.Array when stop.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) =>
            stop.EnumerateArray().Select(e => e.GetString()!).ToArray(),
        _ => throw OpenAiException.BadRequest("stop must be a string or a list of strings.", "stop", "invalid_type"),
    };

    /// <summary>
    /// <c>prompt</c>: a string, a token array, or a list of either; each item is one prompt. Strings are tokenized with
    /// <paramref name="encode"/>. Returns the token prompts and their texts (null where the prompt came as tokens).
    /// </summary>
    public static (int[] Tokens, string? Text)[] Prompts(JsonElement prompt, Func<string, int[]> encode)
    {
        static OpenAiException Bad(string m) => OpenAiException.BadRequest(m, "prompt", "invalid_type");
        switch (prompt.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                throw OpenAiException.BadRequest("prompt is required.", "prompt", "missing_required_parameter");
            case JsonValueKind.String:
                return [(encode(prompt.GetString()!), prompt.GetString())];
            case JsonValueKind.Array:
                var items = prompt.EnumerateArray().ToArray();
                if (items.Length == 0) throw Bad("prompt must not be an empty list.");
                if (items.All(e => e.ValueKind == JsonValueKind.Number)) return [(TokenIds(prompt), null)];
                if (items.All(e => e.ValueKind == JsonValueKind.String)) return items.Select(e => (encode(e.GetString()!), e.GetString())).ToArray();
                if (items.All(e => e.ValueKind == JsonValueKind.Array)) return items.Select(e => (TokenIds(e), (string?)null)).ToArray();
                throw Bad("prompt must be a string, a list of token ids, or a list of strings or of token-id lists.");
            default:
                throw Bad("prompt must be a string, a list of token ids, or a list of strings or of token-id lists.");
        }
    }

    private static int[] TokenIds(JsonElement array)
    {
        var ids = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var e in array.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out ids[i++]))
                throw OpenAiException.BadRequest("token ids in prompt must be integers.", "prompt", "invalid_type");
        }
        if (ids.Length == 0) throw OpenAiException.BadRequest("a token-id prompt must not be empty.", "prompt", "invalid_value");
        return ids;
    }

    /// <summary>Message content: a string, null, or a list of text parts joined together.</summary>
    public static string Content(JsonElement content) => content.ValueKind switch
    {
        JsonValueKind.String => content.GetString()!,
        JsonValueKind.Undefined or JsonValueKind.Null => "",
        JsonValueKind.Array => string.Concat(content.EnumerateArray().Select(TextPart)),
        _ => throw OpenAiException.BadRequest("message content must be a string or a list of text parts.", "messages", "invalid_type"),
    };

    private static string TextPart(JsonElement part)
    {
        if (part.ValueKind == JsonValueKind.String) return part.GetString()!;
        if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String)
        {
            if (t.GetString() == "text" && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String) return text.GetString()!;
            throw OpenAiException.BadRequest($"content parts of type '{t.GetString()}' are not supported; only text.", "messages", "invalid_value");
        }
        throw OpenAiException.BadRequest("message content parts must be objects with type and text.", "messages", "invalid_type");
    }
}
