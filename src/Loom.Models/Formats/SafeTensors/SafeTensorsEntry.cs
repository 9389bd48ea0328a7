using System.Text.Json;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>One validated header entry: dtype, row-major shape and byte range within the data region.</summary>
internal sealed record SafeTensorsEntry(string DType, long[] Shape, long Begin, long End)
{
    /// <summary>Largest rank accepted; real checkpoints use at most 4.</summary>
    public const int MaxRank = 8;

    /// <summary>Bytes per element of every dtype the safetensors format defines; anything else is corrupt.</summary>
    public static int? ElementBytes(string dtype) => dtype switch
    {
        "BOOL" or "U8" or "I8" or "F8_E5M2" or "F8_E4M3" => 1,
        "I16" or "U16" or "F16" or "BF16" => 2,
        "I32" or "U32" or "F32" => 4,
        "I64" or "U64" or "F64" => 8,
        _ => null,
    };

    public static SafeTensorsEntry Parse(string path, string name, JsonElement json, long dataLength)
    {
        ModelFormatException Bad(string problem) => new(path, $"tensor '{name}': {problem}");
        if (json.ValueKind != JsonValueKind.Object) throw Bad("header entry is not a JSON object");
        if (!json.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Bad("missing dtype");
        string dtype = dt.GetString()!;
        int elementBytes = ElementBytes(dtype) ?? throw Bad($"unknown dtype '{dtype}'");

        if (!json.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Bad("missing shape");
        if (sh.GetArrayLength() > MaxRank) throw Bad($"rank {sh.GetArrayLength()} is too large");
        var shape = new long[sh.GetArrayLength()];
        long elements = 1;
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0) throw Bad($"bad dimension {d}");
            shape[i++] = v;
            // Every element takes at least a byte, so a product past the data length is corrupt; testing by
            // division keeps the running product from overflowing.
            if (elements != 0 && v != 0 && v > dataLength / elements) throw Bad("shape holds more elements than the data region has bytes");
            elements *= v;
        }

        if (!json.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad("data_offsets is not a pair");
        if (off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end))
            throw Bad("data_offsets are not integers");
        if (begin < 0 || end < begin || end > dataLength)
            throw Bad($"data_offsets [{begin}, {end}] lie outside the {dataLength}-byte data region (truncated?)");
        if (end - begin != elements * elementBytes)
            throw Bad($"holds {end - begin} bytes but shape [{string.Join(", ", shape)}] of {dtype} needs {elements * elementBytes}");
        return new SafeTensorsEntry(dtype, shape, begin, end);
    }
}
