namespace Loom.Core.Tensors;

/// <summary>Block geometry of each <see cref="GgmlType"/>: elements per block and bytes per block.</summary>
public static class TypeTraits
{
    /// <summary>Elements per K-quant super-block.</summary>
    public const int QK_K = 256;

    /// <summary>True when Loom can store, dequantize and multiply this type.</summary>
    public static bool IsSupported(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or GgmlType.Q8_1 or
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K => true,
        _ => false,
    };

    /// <summary>Elements per block (1 for plain float types).</summary>
    public static int BlockSize(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.I8 or GgmlType.I16 or GgmlType.I32 or GgmlType.I64 or GgmlType.F64 => 1,
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or GgmlType.Q8_1 or GgmlType.IQ4_NL => 32,
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K => QK_K,
        _ => throw new NotSupportedException($"tensor type {type} is not supported"),
    };

    /// <summary>Bytes per block.</summary>
    public static int TypeSize(GgmlType type) => type switch
    {
        GgmlType.F32 => 4,
        GgmlType.F16 => 2,
        GgmlType.BF16 => 2,
        GgmlType.I8 => 1,
        GgmlType.I16 => 2,
        GgmlType.I32 => 4,
        GgmlType.I64 => 8,
        GgmlType.F64 => 8,
        GgmlType.Q4_0 => 2 + 16,
        GgmlType.Q4_1 => 2 + 2 + 16,
        GgmlType.Q5_0 => 2 + 4 + 16,
        GgmlType.Q5_1 => 2 + 2 + 4 + 16,
        GgmlType.Q8_0 => 2 + 32,
        GgmlType.Q8_1 => 2 + 2 + 32,
        GgmlType.IQ4_NL => 2 + 16,
        GgmlType.Q2_K => QK_K / 16 + QK_K / 4 + 2 + 2,
        GgmlType.Q3_K => QK_K / 8 + QK_K / 4 + 12 + 2,
        GgmlType.Q4_K => 2 + 2 + 12 + QK_K / 2,
        GgmlType.Q5_K => 2 + 2 + 12 + QK_K / 8 + QK_K / 2,
        GgmlType.Q6_K => QK_K / 2 + QK_K / 4 + QK_K / 16 + 2,
        GgmlType.Q8_K => 4 + QK_K + QK_K / 16 * 2,
        _ => throw new NotSupportedException($"tensor type {type} is not supported"),
    };

    /// <summary>Bytes of one row of <paramref name="n"/> elements; <paramref name="n"/> must be a multiple of the block size.</summary>
    public static long RowSize(GgmlType type, long n)
    {
        int bs = BlockSize(type);
        if (n % bs != 0) throw new ArgumentException($"row length {n} is not a multiple of the {type} block size {bs}");
        return n / bs * TypeSize(type);
    }
}
