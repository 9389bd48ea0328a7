using System.Text;
using Loom.Core.Tensors;

namespace Loom.Models.Formats.Gguf;

/// <summary>
/// A GGUF v2/v3 file: metadata, tensor infos, and tensor data memory-mapped in place.
/// Every problem with the file surfaces as <see cref="ModelFormatException"/>.
/// </summary>
public sealed class GgufFile : IDisposable
{
    public const uint Magic = 0x46554747; // "GGUF" little-endian
    public const int DefaultAlignment = 32;

    private readonly MappedFile _file;
    private readonly Dictionary<string, GgufTensorInfo> _byName;

    private GgufFile(string path, MappedFile file, uint version, Dictionary<string, object> metadata,
        List<GgufTensorInfo> tensors, long dataOffset, int alignment)
    {
        Path = path;
        _file = file;
        Version = version;
        Metadata = metadata;
        Tensors = tensors;
        DataOffset = dataOffset;
        Alignment = alignment;
        _byName = new Dictionary<string, GgufTensorInfo>(StringComparer.Ordinal);
        foreach (var t in tensors) _byName[t.Name] = t;
    }

    public string Path { get; }
    public uint Version { get; }
    /// <summary>Metadata values: byte, sbyte, ushort, short, uint, int, ulong, long, float, double, bool, string or <see cref="GgufArray"/>.</summary>
    public IReadOnlyDictionary<string, object> Metadata { get; }
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    /// <summary>File offset of the aligned tensor data section.</summary>
    public long DataOffset { get; }
    public int Alignment { get; }
    public long FileLength => _file.Length;

    /// <summary>Opens and validates a GGUF file; tensor data stays mapped until <see cref="Dispose"/>.</summary>
    public static GgufFile Open(string path)
    {
        MappedFile file;
        try { file = new MappedFile(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot open: {e.Message}", e);
        }
        try
        {
            return Parse(path, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static unsafe GgufFile Parse(string path, MappedFile file)
    {
        var r = new Reader(path, (byte*)file.Pointer, file.Length);
        if (file.Length < 4 || r.U32() != Magic) throw new ModelFormatException(path, "not a GGUF file (bad magic)");
        uint version = r.U32();
        if (version is < 2 or > 3) throw new ModelFormatException(path, $"unsupported GGUF version {version}");
        ulong nTensors = r.U64();
        ulong nKv = r.U64();
        // Every tensor info and every kv needs well over 8 bytes, so counts beyond the file size are lies.
        if (nTensors > (ulong)file.Length / 8 || nKv > (ulong)file.Length / 8)
            throw new ModelFormatException(path, $"absurd counts ({nTensors} tensors, {nKv} metadata entries) for a {file.Length}-byte file");

        var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
        for (ulong i = 0; i < nKv; i++)
        {
            string key = r.Str();
            var type = (GgufValueType)r.U32();
            object value = r.Value(type, depth: 0);
            if (!metadata.TryAdd(key, value)) throw new ModelFormatException(path, $"duplicate metadata key '{key}'");
        }

        int alignment = DefaultAlignment;
        if (metadata.TryGetValue("general.alignment", out var alignObj))
        {
            long a = alignObj switch { uint u => u, int s => s, ulong ul => (long)Math.Min(ul, int.MaxValue), long l => l, _ => -1 };
            if (a <= 0 || a > 1 << 20 || (a & (a - 1)) != 0) throw new ModelFormatException(path, $"general.alignment {alignObj} is not a power of two");
            alignment = (int)a;
        }

        var tensors = new List<GgufTensorInfo>((int)nTensors);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < nTensors; i++)
        {
            string name = r.Str();
            uint nDims = r.U32();
            if (nDims is 0 or > 4) throw new ModelFormatException(path, $"tensor '{name}' has {nDims} dimensions");
            var shape = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++)
            {
                ulong dim = r.U64();
                if (dim == 0 || dim > (ulong)file.Length * 8) throw new ModelFormatException(path, $"tensor '{name}' has dimension {dim}");
                shape[d] = (long)dim;
                elements = checked(elements * (long)dim);
                if (elements > file.Length * 8) throw new ModelFormatException(path, $"tensor '{name}' is larger than the file");
            }
            uint rawType = r.U32();
            var type = (GgmlType)rawType;
            if (!TypeTraits.IsSupported(type)) throw new ModelFormatException(path, $"tensor '{name}' has unsupported type {(Enum.IsDefined(type) ? type.ToString() : rawType.ToString())}");
            if (shape[0] % TypeTraits.BlockSize(type) != 0)
                throw new ModelFormatException(path, $"tensor '{name}' row length {shape[0]} is not a multiple of the {type} block size");
            ulong offset = r.U64();
            long bytes = elements / TypeTraits.BlockSize(type) * TypeTraits.TypeSize(type);
            if (!names.Add(name)) throw new ModelFormatException(path, $"duplicate tensor '{name}'");
            tensors.Add(new GgufTensorInfo(name, shape, type, offset, bytes));
        }

        long dataOffset = (r.Position + alignment - 1) / alignment * alignment;
        foreach (var t in tensors)
        {
            if (t.Offset % (ulong)alignment != 0) throw new ModelFormatException(path, $"tensor '{t.Name}' offset {t.Offset} is not aligned to {alignment}");
            if (t.Offset > (ulong)file.Length || (ulong)dataOffset + t.Offset + (ulong)t.ByteSize > (ulong)file.Length)
                throw new ModelFormatException(path, $"tensor '{t.Name}' data lies outside the file (truncated?)");
        }
        return new GgufFile(path, file, version, metadata, tensors, dataOffset, alignment);
    }

    /// <summary>True when a tensor with this name exists.</summary>
    public bool HasTensor(string name) => _byName.ContainsKey(name);

    /// <summary>The tensor's info, or null.</summary>
    public GgufTensorInfo? FindTensor(string name) => _byName.GetValueOrDefault(name);

    /// <summary>A view of the named tensor's mapped data.</summary>
    public WeightTensor GetTensor(string name)
    {
        if (!_byName.TryGetValue(name, out var t)) throw new ModelFormatException(Path, $"missing tensor '{name}'");
        return new WeightTensor(t.Name, t.Type, t.Shape, _file.Pointer + (nint)(DataOffset + (long)t.Offset), t.ByteSize);
    }

    public bool Has(string key) => Metadata.ContainsKey(key);

    public string? GetString(string key) => Metadata.TryGetValue(key, out var v) ? v as string ?? throw Bad(key, "a string") : null;

    /// <summary>Any integer-typed value as long; null when absent.</summary>
    public long? GetInteger(string key) => Metadata.TryGetValue(key, out var v) ? ToInteger(v) ?? throw Bad(key, "an integer") : null;

    public double? GetFloat(string key) => Metadata.TryGetValue(key, out var v)
        ? v switch { float f => f, double d => d, _ => ToInteger(v) ?? throw Bad(key, "a number") }
        : null;

    public bool? GetBool(string key) => Metadata.TryGetValue(key, out var v) ? v as bool? ?? throw Bad(key, "a bool") : null;

    public GgufArray? GetArray(string key) => Metadata.TryGetValue(key, out var v) ? v as GgufArray ?? throw Bad(key, "an array") : null;

    private ModelFormatException Bad(string key, string what) => new(Path, $"metadata '{key}' is not {what}");

    internal static long? ToInteger(object v) => v switch
    {
        byte b => b, sbyte sb => sb, ushort us => us, short s => s, uint u => u, int i => i,
        ulong ul => ul > long.MaxValue ? null : (long)ul, long l => l, bool bo => bo ? 1 : 0, _ => null,
    };

    public void Dispose() => _file.Dispose();

    /// <summary>Bounds-checked little-endian cursor over the mapped file.</summary>
    private unsafe struct Reader(string path, byte* data, long length)
    {
        private long _pos;
        public readonly long Position => _pos;

        private void Need(long n)
        {
            if (n < 0 || _pos + n > length) throw new ModelFormatException(path, $"truncated: needed {n} bytes at offset {_pos}, file has {length}");
        }

        public byte U8() { Need(1); return data[_pos++]; }
        public ushort U16() { Need(2); var v = *(ushort*)(data + _pos); _pos += 2; return v; }
        public uint U32() { Need(4); var v = *(uint*)(data + _pos); _pos += 4; return v; }
        public ulong U64() { Need(8); var v = *(ulong*)(data + _pos); _pos += 8; return v; }

        public string Str()
        {
            ulong n = U64();
            if (n > (ulong)(length - _pos)) throw new ModelFormatException(path, $"string of {n} bytes at offset {_pos - 8} runs past the end of the file");
            var s = Encoding.UTF8.GetString(data + _pos, (int)n);
            _pos += (long)n;
            return s;
        }

        public object Value(GgufValueType type, int depth) => type switch
        {
            GgufValueType.UInt8 => U8(),
            GgufValueType.Int8 => (sbyte)U8(),
            GgufValueType.UInt16 => U16(),
            GgufValueType.Int16 => (short)U16(),
            GgufValueType.UInt32 => U32(),
            GgufValueType.Int32 => (int)U32(),
            GgufValueType.Float32 => BitConverter.UInt32BitsToSingle(U32()),
            GgufValueType.Bool => U8() switch { 0 => false, 1 => true, var b => throw new ModelFormatException(path, $"bool value {b}") },
            GgufValueType.String => Str(),
            GgufValueType.UInt64 => U64(),
            GgufValueType.Int64 => (long)U64(),
            GgufValueType.Float64 => BitConverter.UInt64BitsToDouble(U64()),
            GgufValueType.Array => Array(depth),
            _ => throw new ModelFormatException(path, $"unknown metadata value type {(uint)type} at offset {_pos - 4}"),
        };

        private GgufArray Array(int depth)
        {
            if (depth > 8) throw new ModelFormatException(path, "metadata arrays nested too deeply");
            var et = (GgufValueType)U32();
            ulong n = U64();
            // The smallest element is one byte (a string needs eight), so a count beyond the bytes left is a lie.
            if (n > (ulong)(length - _pos)) throw new ModelFormatException(path, $"array of {n} elements at offset {_pos - 12} is larger than the file");
            int count = (int)n;
            switch (et)
            {
                case GgufValueType.UInt8: { var a = new byte[count]; for (int i = 0; i < count; i++) a[i] = U8(); return new(et, a); }
                case GgufValueType.Int8: { var a = new sbyte[count]; for (int i = 0; i < count; i++) a[i] = (sbyte)U8(); return new(et, a); }
                case GgufValueType.UInt16: { var a = new ushort[count]; for (int i = 0; i < count; i++) a[i] = U16(); return new(et, a); }
                case GgufValueType.Int16: { var a = new short[count]; for (int i = 0; i < count; i++) a[i] = (short)U16(); return new(et, a); }
                case GgufValueType.UInt32: { var a = new uint[count]; for (int i = 0; i < count; i++) a[i] = U32(); return new(et, a); }
                case GgufValueType.Int32: { var a = new int[count]; for (int i = 0; i < count; i++) a[i] = (int)U32(); return new(et, a); }
                case GgufValueType.Float32: { var a = new float[count]; for (int i = 0; i < count; i++) a[i] = BitConverter.UInt32BitsToSingle(U32()); return new(et, a); }
                case GgufValueType.UInt64: { var a = new ulong[count]; for (int i = 0; i < count; i++) a[i] = U64(); return new(et, a); }
                case GgufValueType.Int64: { var a = new long[count]; for (int i = 0; i < count; i++) a[i] = (long)U64(); return new(et, a); }
                case GgufValueType.Float64: { var a = new double[count]; for (int i = 0; i < count; i++) a[i] = BitConverter.UInt64BitsToDouble(U64()); return new(et, a); }
                case GgufValueType.Bool: { var a = new bool[count]; for (int i = 0; i < count; i++) a[i] = (bool)Value(et, depth); return new(et, a); }
                case GgufValueType.String: { var a = new string[count]; for (int i = 0; i < count; i++) a[i] = Str(); return new(et, a); }
                case GgufValueType.Array: { var a = new GgufArray[count]; for (int i = 0; i < count; i++) a[i] = Array(depth + 1); return new(et, a); }
                default: throw new ModelFormatException(path, $"unknown array element type {(uint)et}");
            }
        }
    }
}
