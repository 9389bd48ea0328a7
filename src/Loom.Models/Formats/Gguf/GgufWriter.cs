using System.Text;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Models.Formats.Gguf;

/// <summary>
/// Builds a GGUF v3 file: collect metadata and tensors, then <see cref="Write(string)"/> streams the header and
/// each tensor's data in order. Tensor data is produced only while it is written, so a writer whose tensors
/// come from callbacks holds one tensor (or less) in memory at a time, however large the model.
/// The layout is the one llama.cpp requires: offsets in insertion order, each padded to the alignment with zeros.
/// </summary>
public sealed class GgufWriter
{
    /// <summary>Longest tensor name llama.cpp accepts, in UTF-8 bytes (its GGML_MAX_NAME is 64 including the terminator).</summary>
    public const int MaxTensorNameBytes = 63;

    private readonly List<(string Key, GgufValueType Type, object Value)> _metadata = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly List<PendingTensor> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);

    private sealed record PendingTensor(string Name, GgmlType Type, long[] Shape, long ByteSize, Action<Stream> WriteData);

    /// <summary>Data alignment: the value of <c>general.alignment</c> once added, else 32.</summary>
    public int Alignment { get; private set; } = GgufFile.DefaultAlignment;

    /// <summary>Number of metadata entries added so far.</summary>
    public int MetadataCount => _metadata.Count;

    /// <summary>Number of tensors added so far.</summary>
    public int TensorCount => _tensors.Count;

    /// <summary>
    /// Adds a metadata entry. <paramref name="value"/> may be any type <see cref="GgufFile.Metadata"/> returns
    /// (byte, sbyte, ushort, short, uint, int, ulong, long, float, double, bool, string, <see cref="GgufArray"/>)
    /// or a one-dimensional array of one of the scalar types (<c>string[]</c>, <c>float[]</c>, <c>int[]</c>, ...).
    /// <c>general.alignment</c> must be a uint power of two and sets <see cref="Alignment"/>.
    /// </summary>
    public GgufWriter Add(string key, object value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (value is Array raw) value = new GgufArray(ElementTypeOf(raw), raw);
        var type = value is GgufArray arr ? Validate(arr, 0) : ScalarType(value)
            ?? throw new ArgumentException($"metadata '{key}': {value.GetType().Name} is not a GGUF value type", nameof(value));
        if (key == GgufFile.AlignmentKey)
        {
            if (value is not uint a || a == 0 || a > GgufFile.MaxAlignment || (a & (a - 1)) != 0)
                throw new ArgumentException($"{GgufFile.AlignmentKey} must be a uint power of two up to {GgufFile.MaxAlignment}", nameof(value));
            Alignment = (int)a;
        }
        if (!_keys.Add(key)) throw new ArgumentException($"duplicate metadata key '{key}'", nameof(key));
        _metadata.Add((key, type, value));
        return this;
    }

    public GgufWriter Add(string key, string value) => Add(key, (object)value);
    public GgufWriter Add(string key, bool value) => Add(key, (object)value);
    public GgufWriter Add(string key, byte value) => Add(key, (object)value);
    public GgufWriter Add(string key, sbyte value) => Add(key, (object)value);
    public GgufWriter Add(string key, ushort value) => Add(key, (object)value);
    public GgufWriter Add(string key, short value) => Add(key, (object)value);
    public GgufWriter Add(string key, uint value) => Add(key, (object)value);
    public GgufWriter Add(string key, int value) => Add(key, (object)value);
    public GgufWriter Add(string key, ulong value) => Add(key, (object)value);
    public GgufWriter Add(string key, long value) => Add(key, (object)value);
    public GgufWriter Add(string key, float value) => Add(key, (object)value);
    public GgufWriter Add(string key, double value) => Add(key, (object)value);
    public GgufWriter Add(string key, GgufArray value) => Add(key, (object)value);
    public GgufWriter Add(string key, string[] value) => Add(key, (object)value);
    public GgufWriter Add(string key, float[] value) => Add(key, (object)value);
    public GgufWriter Add(string key, int[] value) => Add(key, (object)value);

    /// <summary>Adds a tensor whose bytes (already in <paramref name="type"/>'s layout) are <paramref name="data"/>.</summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        long size = ByteSize(name, type, shape);
        if (data.LongLength != size) throw new ArgumentException($"tensor '{name}' needs {size} bytes, got {data.LongLength}", nameof(data));
        return AddPending(name, type, shape, size, s => s.Write(data));
    }

    /// <summary>
    /// Adds a tensor given as floats (row-major in ggml order), converted to <paramref name="type"/> with
    /// <see cref="Quants.Quantize"/> while writing, one row at a time.
    /// </summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] shape, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        long size = ByteSize(name, type, shape);
        long elements = ElementCount(shape);
        if (data.LongLength != elements) throw new ArgumentException($"tensor '{name}' has {elements} elements, got {data.LongLength}", nameof(data));
        int rowLength = checked((int)shape[0]);
        var rowBytes = new byte[TypeTraits.RowSize(type, rowLength)];
        Quants.Quantize(type, new float[rowLength], rowBytes); // fail now, not mid-file, if the type cannot be quantized yet
        return AddPending(name, type, shape, size, s =>
        {
            for (long r = 0; r < elements / rowLength; r++)
            {
                Quants.Quantize(type, data.AsSpan(checked((int)(r * rowLength)), rowLength), rowBytes);
                s.Write(rowBytes);
            }
        });
    }

    /// <summary>
    /// Adds a tensor whose bytes <paramref name="writeData"/> streams when the file is written. It must write exactly
    /// the tensor's byte size (rows of <see cref="TypeTraits.RowSize"/> bytes); the stream is write-only.
    /// </summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] shape, Action<Stream> writeData)
    {
        ArgumentNullException.ThrowIfNull(writeData);
        return AddPending(name, type, shape, ByteSize(name, type, shape), writeData);
    }

    /// <summary>Writes the file to <paramref name="path"/>, replacing it. Nothing is left behind on failure.</summary>
    public void Write(string path)
    {
        try
        {
            using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            Write(fs);
        }
        catch
        {
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Writes the file to <paramref name="output"/>; offsets are relative to where the stream starts.</summary>
    public void Write(Stream output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var counting = new GgufCountingStream(output);
        var w = new BinaryWriter(counting, Encoding.UTF8, leaveOpen: true);
        w.Write(GgufFile.Magic);
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, type, value) in _metadata)
        {
            WriteString(w, key);
            w.Write((uint)type);
            WriteValue(w, type, value);
        }
        ulong offset = 0;
        foreach (var t in _tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Shape.Length);
            foreach (var d in t.Shape) w.Write((ulong)d);
            w.Write((uint)t.Type);
            w.Write(offset);
            offset += (ulong)Pad(t.ByteSize);
        }
        w.Flush();
        WriteZeros(counting, Pad(counting.Count) - counting.Count);
        foreach (var t in _tensors)
        {
            long before = counting.Count;
            t.WriteData(counting);
            long wrote = counting.Count - before;
            if (wrote != t.ByteSize) throw new InvalidOperationException($"tensor '{t.Name}' wrote {wrote} bytes, expected {t.ByteSize}");
            WriteZeros(counting, Pad(t.ByteSize) - t.ByteSize);
        }
        output.Flush();
    }

    private long Pad(long n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void WriteZeros(Stream s, long n)
    {
        Span<byte> zeros = stackalloc byte[256];
        zeros.Clear();
        while (n > 0) { int k = (int)Math.Min(n, zeros.Length); s.Write(zeros[..k]); n -= k; }
    }

    private GgufWriter AddPending(string name, GgmlType type, long[] shape, long size, Action<Stream> writeData)
    {
        if (!_tensorNames.Add(name)) throw new ArgumentException($"duplicate tensor '{name}'", nameof(name));
        _tensors.Add(new PendingTensor(name, type, (long[])shape.Clone(), size, writeData));
        return this;
    }

    private static long ElementCount(long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n = checked(n * d);
        return n;
    }

    private static long ByteSize(string name, GgmlType type, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (Encoding.UTF8.GetByteCount(name) > MaxTensorNameBytes) throw new ArgumentException($"tensor name '{name}' is longer than {MaxTensorNameBytes} bytes", nameof(name));
        if (shape.Length is 0 or > GgufFile.MaxDims) throw new ArgumentException($"tensor '{name}' must have 1 to {GgufFile.MaxDims} dimensions", nameof(shape));
        if (shape.Any(d => d <= 0)) throw new ArgumentException($"tensor '{name}' has a non-positive dimension", nameof(shape));
        if (!TypeTraits.IsSupported(type)) throw new ArgumentException($"tensor '{name}' has unsupported type {type}", nameof(type));
        return checked(TypeTraits.RowSize(type, shape[0]) * (ElementCount(shape) / shape[0]));
    }

    private static GgufValueType? ScalarType(object v) => v switch
    {
        byte => GgufValueType.UInt8, sbyte => GgufValueType.Int8, ushort => GgufValueType.UInt16, short => GgufValueType.Int16,
        uint => GgufValueType.UInt32, int => GgufValueType.Int32, ulong => GgufValueType.UInt64, long => GgufValueType.Int64,
        float => GgufValueType.Float32, double => GgufValueType.Float64, bool => GgufValueType.Bool, string => GgufValueType.String,
        _ => null,
    };

    // Exact type tests: the CLR lets an int[] pass "is uint[]" (and byte[]/sbyte[] likewise), so patterns would misfile them.
    private static readonly Dictionary<Type, GgufValueType> ArrayTypes = new()
    {
        [typeof(byte[])] = GgufValueType.UInt8, [typeof(sbyte[])] = GgufValueType.Int8,
        [typeof(ushort[])] = GgufValueType.UInt16, [typeof(short[])] = GgufValueType.Int16,
        [typeof(uint[])] = GgufValueType.UInt32, [typeof(int[])] = GgufValueType.Int32,
        [typeof(ulong[])] = GgufValueType.UInt64, [typeof(long[])] = GgufValueType.Int64,
        [typeof(float[])] = GgufValueType.Float32, [typeof(double[])] = GgufValueType.Float64,
        [typeof(bool[])] = GgufValueType.Bool, [typeof(string[])] = GgufValueType.String,
        [typeof(GgufArray[])] = GgufValueType.Array,
    };

    private static GgufValueType ElementTypeOf(Array a) =>
        ArrayTypes.TryGetValue(a.GetType(), out var t) ? t : throw new ArgumentException($"{a.GetType().Name} is not a GGUF array type");

    /// <summary>Checks that the .NET array matches the declared element type, recursively; returns Array.</summary>
    private static GgufValueType Validate(GgufArray a, int depth)
    {
        if (depth >= GgufCursor.MaxArrayDepth) throw new ArgumentException($"arrays nested more than {GgufCursor.MaxArrayDepth} deep");
        ArgumentNullException.ThrowIfNull(a.Values);
        if (a.Values is GgufArray[] inner)
        {
            if (a.ElementType != GgufValueType.Array) throw new ArgumentException($"GgufArray of {a.ElementType} holds arrays");
            foreach (var x in inner) Validate(x ?? throw new ArgumentException("null nested array"), depth + 1);
        }
        else if (ElementTypeOf(a.Values) != a.ElementType)
            throw new ArgumentException($"GgufArray of {a.ElementType} holds {a.Values.GetType().Name}");
        else if (a.Values is string[] strings && strings.Any(s => s is null))
            throw new ArgumentException("null string in array");
        return GgufValueType.Array;
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValueType type, object v)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write((byte)v); break;
            case GgufValueType.Int8: w.Write((sbyte)v); break;
            case GgufValueType.UInt16: w.Write((ushort)v); break;
            case GgufValueType.Int16: w.Write((short)v); break;
            case GgufValueType.UInt32: w.Write((uint)v); break;
            case GgufValueType.Int32: w.Write((int)v); break;
            case GgufValueType.UInt64: w.Write((ulong)v); break;
            case GgufValueType.Int64: w.Write((long)v); break;
            case GgufValueType.Float32: w.Write((float)v); break;
            case GgufValueType.Float64: w.Write((double)v); break;
            case GgufValueType.Bool: w.Write((byte)((bool)v ? 1 : 0)); break;
            case GgufValueType.String: WriteString(w, (string)v); break;
            case GgufValueType.Array:
                var a = (GgufArray)v;
                w.Write((uint)a.ElementType);
                w.Write((ulong)a.Count);
                foreach (var x in a.Values) WriteValue(w, a.ElementType, x!);
                break;
            default: throw new InvalidOperationException($"value type {type}");
        }
    }
}
