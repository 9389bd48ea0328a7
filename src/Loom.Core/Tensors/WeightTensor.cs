namespace Loom.Core.Tensors;

/// <summary>
/// A read-only view of a tensor stored in native memory (usually a memory-mapped model file).
/// Shape follows ggml's order: <c>Shape[0]</c> is the innermost (contiguous) dimension, so a matrix of
/// <c>Rows</c> rows of <c>Cols</c> elements has <c>Shape = [Cols, Rows]</c>.
/// The memory is owned elsewhere (by the model file); the view must not outlive it.
/// </summary>
public sealed unsafe class WeightTensor
{
    public WeightTensor(string name, GgmlType type, long[] shape, nint data, long byteSize)
    {
        Name = name;
        Type = type;
        Shape = shape;
        Data = data;
        ByteSize = byteSize;
        long n = 1;
        foreach (var d in shape) n *= d;
        ElementCount = n;
        RowBytes = shape.Length == 0 ? 0 : TypeTraits.RowSize(type, shape[0]);
    }

    public string Name { get; }
    public GgmlType Type { get; }
    public long[] Shape { get; }
    /// <summary>Address of the first byte.</summary>
    public nint Data { get; }
    public long ByteSize { get; }
    public long ElementCount { get; }
    /// <summary>Elements per row (<c>Shape[0]</c>).</summary>
    public int Cols => (int)Shape[0];
    /// <summary>Number of rows: the product of all dimensions but the first.</summary>
    public int Rows => (int)(ElementCount / Math.Max(1, Shape[0]));
    /// <summary>Bytes per row.</summary>
    public long RowBytes { get; }

    /// <summary>
    /// The same matrix repacked at load into a layout a fast kernel prefers (the mapped file stays untouched),
    /// or null. Set once, before the tensor is used from several threads.
    /// </summary>
    public Kernels.Quantized.PackedMatrix? Packed { get; set; }

    /// <summary>
    /// For f16 matrices: true once a scan at load found no Inf or NaN, which lets decode widen the weights in three
    /// operations instead of eight (see <see cref="Kernels.Dot.F16F32Prescaled"/>). Set once, before concurrent use.
    /// </summary>
    public bool FiniteF16 { get; set; }

    /// <summary>The raw bytes of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<byte> Row(int row)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row));
        return new ReadOnlySpan<byte>((byte*)Data + row * RowBytes, checked((int)RowBytes));
    }

    /// <summary>All bytes (only for tensors under 2 GiB).</summary>
    public ReadOnlySpan<byte> Bytes => new((byte*)Data, checked((int)ByteSize));

    /// <summary>Every element as a float, dequantized (only for tensors under 2 GiB): for norms and other small vectors read once.</summary>
    public float[] ToFloats()
    {
        var f = new float[ElementCount];
        Quantization.Quants.Dequantize(Type, Bytes, f);
        return f;
    }

    public override string ToString() => $"{Name} {Type} [{string.Join(", ", Shape)}]";
}
