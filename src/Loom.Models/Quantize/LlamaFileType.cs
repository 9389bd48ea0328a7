using Loom.Core.Tensors;

namespace Loom.Models.Quantize;

/// <summary>
/// The model-wide quantization a file is written with (llama.cpp's <c>llama_ftype</c>, numbered as it numbers them,
/// since that number is what <c>general.file_type</c> holds). A file type names a default tensor type plus, for the
/// K-quant mixes, rules that give some tensors more bits (see <see cref="TensorTypeRules"/>).
/// </summary>
public enum LlamaFileType
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q8_0 = 7,
    Q5_0 = 8,
    Q5_1 = 9,
    Q2_K = 10,
    Q3_K_S = 11,
    Q3_K_M = 12,
    Q3_K_L = 13,
    Q4_K_S = 14,
    Q4_K_M = 15,
    Q5_K_S = 16,
    Q5_K_M = 17,
    Q6_K = 18,
    BF16 = 32,
}

/// <summary>Names and default tensor types of <see cref="LlamaFileType"/>s.</summary>
public static class LlamaFileTypes
{
    /// <summary>Every file type Loom can write, in llama-quantize's listing order.</summary>
    public static IReadOnlyList<LlamaFileType> All { get; } = Enum.GetValues<LlamaFileType>();

    /// <summary>The names accepted by <see cref="Parse"/>, comma-separated, for help and error messages.</summary>
    public static string Names => string.Join(", ", All);

    /// <summary>
    /// Parses a name such as <c>Q4_K_M</c> (case-insensitive; <c>Q4_K</c> and <c>Q5_K</c> mean the _M mixes and
    /// <c>Q3_K</c> the _M mix, as in llama-quantize). Throws <see cref="ArgumentException"/> naming the valid choices.
    /// </summary>
    public static LlamaFileType Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var n = name.Trim().ToUpperInvariant();
        n = n switch { "Q3_K" => "Q3_K_M", "Q4_K" => "Q4_K_M", "Q5_K" => "Q5_K_M", _ => n };
        foreach (var t in All) if (t.ToString() == n) return t;
        throw new ArgumentException($"unknown quantization type '{name}' (expected one of {Names})");
    }

    /// <summary>The file type whose <c>general.file_type</c> value is <paramref name="value"/>, or null.</summary>
    public static LlamaFileType? FromValue(long value) =>
        value is >= 0 and <= int.MaxValue && Enum.IsDefined((LlamaFileType)(int)value) ? (LlamaFileType)(int)value : null;

    /// <summary>The tensor type most weight matrices get under <paramref name="fileType"/>.</summary>
    public static GgmlType DefaultType(LlamaFileType fileType) => fileType switch
    {
        LlamaFileType.F32 => GgmlType.F32,
        LlamaFileType.F16 => GgmlType.F16,
        LlamaFileType.BF16 => GgmlType.BF16,
        LlamaFileType.Q4_0 => GgmlType.Q4_0,
        LlamaFileType.Q4_1 => GgmlType.Q4_1,
        LlamaFileType.Q5_0 => GgmlType.Q5_0,
        LlamaFileType.Q5_1 => GgmlType.Q5_1,
        LlamaFileType.Q8_0 => GgmlType.Q8_0,
        LlamaFileType.Q2_K => GgmlType.Q2_K,
        LlamaFileType.Q3_K_S or LlamaFileType.Q3_K_M or LlamaFileType.Q3_K_L => GgmlType.Q3_K,
        LlamaFileType.Q4_K_S or LlamaFileType.Q4_K_M => GgmlType.Q4_K,
        LlamaFileType.Q5_K_S or LlamaFileType.Q5_K_M => GgmlType.Q5_K,
        LlamaFileType.Q6_K => GgmlType.Q6_K,
        _ => throw new ArgumentOutOfRangeException(nameof(fileType), fileType, null),
    };

    /// <summary>True for block-quantized tensor types (not F32/F16/BF16).</summary>
    public static bool IsQuantized(GgmlType type) => type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.F64
        or GgmlType.I8 or GgmlType.I16 or GgmlType.I32 or GgmlType.I64);
}
