using System.Text.Json;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// Typed reads from one JSON object of a Hugging Face config, where a JSON <c>null</c> means "not set"
/// and a value of the wrong kind is a <see cref="ModelFormatException"/> naming the key.
/// </summary>
internal readonly struct HfConfigJson(string path, JsonElement obj)
{
    public string Path => path;

    private JsonElement? Get(string key) =>
        obj.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public bool HasValue(string key) => Get(key) is not null;

    /// <summary>The key is present with a JSON <c>null</c>, which some configs use to switch a feature off.</summary>
    public bool IsNull(string key) => obj.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Null;

    public string? String(string key) => Get(key) is { } v
        ? v.ValueKind == JsonValueKind.String ? v.GetString() : throw Bad(key, "a string")
        : null;

    public double? Double(string key) => Get(key) is { } v
        ? v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d) ? d : throw Bad(key, "a number")
        : null;

    /// <summary>An integer (a float with an integral value is accepted, as Python writes some that way).</summary>
    public int? Int(string key)
    {
        if (Get(key) is not { } v) return null;
        if (v.ValueKind == JsonValueKind.Number)
        {
            if (v.TryGetInt32(out int i)) return i;
            if (v.TryGetDouble(out double d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue) return (int)d;
        }
        throw Bad(key, "a 32-bit integer");
    }

    public bool? Bool(string key) => Get(key) is { } v
        ? v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw Bad(key, "a boolean") }
        : null;

    public int RequiredInt(string key) => Int(key) ?? throw new ModelFormatException(path, $"config has no '{key}'");

    public HfConfigJson? Object(string key) => Get(key) is { } v
        ? v.ValueKind == JsonValueKind.Object ? new HfConfigJson(path, v) : throw Bad(key, "an object")
        : null;

    /// <summary>The first string of an array value (e.g. <c>architectures</c>).</summary>
    public string? FirstOfArray(string key)
    {
        if (Get(key) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array) throw Bad(key, "an array");
        foreach (var e in v.EnumerateArray())
            return e.ValueKind == JsonValueKind.String ? e.GetString() : throw Bad(key, "an array of strings");
        return null;
    }

    /// <summary>An array of numbers (e.g. LongRoPE's factors), or null when absent.</summary>
    public double[]? Doubles(string key)
    {
        if (Get(key) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array) throw Bad(key, "an array of numbers");
        var result = new double[v.GetArrayLength()];
        int i = 0;
        foreach (var e in v.EnumerateArray())
            result[i++] = e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out double d) && double.IsFinite(d) ? d : throw Bad(key, "an array of numbers");
        return result;
    }

    /// <summary>An array of strings (e.g. Gemma's <c>layer_types</c>), or null when absent.</summary>
    public string[]? Strings(string key)
    {
        if (Get(key) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array) throw Bad(key, "an array of strings");
        var result = new string[v.GetArrayLength()];
        int i = 0;
        foreach (var e in v.EnumerateArray())
            result[i++] = e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Bad(key, "an array of strings");
        return result;
    }

    private ModelFormatException Bad(string key, string what) => new(path, $"config '{key}' is not {what}");
}
