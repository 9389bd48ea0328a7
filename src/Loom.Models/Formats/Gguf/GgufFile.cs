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
    /// <summary>Metadata key that overrides <see cref="DefaultAlignment"/> (a uint32 power of two).</summary>
    public const string AlignmentKey = "general.alignment";
    /// <summary>Largest alignment accepted; real files use 32 or 64.</summary>
    public const int MaxAlignment = 1 << 20;
    /// <summary>Most dimensions a tensor may have (ggml's limit).</summary>
    public const int MaxDims = 4;

    private readonly MappedFile _file;
    private readonly Dictionary<string, GgufTensorInfo> _byName;
    private bool _disposed;

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
        if (file.Length < 8) throw new ModelFormatException(path, $"not a GGUF file ({file.Length} bytes)");
        var r = new GgufCursor(path, (byte*)file.Pointer, file.Length);
        if (r.U32() != Magic) throw new ModelFormatException(path, "not a GGUF file (bad magic)");
        uint version = r.U32();
        if (version is 0x02000000 or 0x03000000) throw new ModelFormatException(path, "big-endian GGUF files are not supported");
        if (version is < 2 or > 3) throw new ModelFormatException(path, $"unsupported GGUF version {version}");
        ulong nTensors = r.U64();
        ulong nKv = r.U64();
        // A kv needs at least 13 bytes (key length, type, one-byte value) and a tensor info 32, so larger counts are lies.
        if (nKv > (ulong)(r.Remaining / 13)) throw new ModelFormatException(path, $"{nKv} metadata entries cannot fit in a {file.Length}-byte file");
        if (nTensors > (ulong)(r.Remaining / 32)) throw new ModelFormatException(path, $"{nTensors} tensors cannot fit in a {file.Length}-byte file");

        var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
        for (ulong i = 0; i < nKv; i++)
        {
            string key = r.Str();
            var type = (GgufValueType)r.U32();
            object value = r.Value(type, depth: 0);
            if (!metadata.TryAdd(key, value)) throw new ModelFormatException(path, $"duplicate metadata key '{key}'");
        }

        int alignment = DefaultAlignment;
        if (metadata.TryGetValue(AlignmentKey, out var alignObj))
        {
            long a = ToInteger(alignObj) ?? -1;
            if (a <= 0 || a > MaxAlignment || (a & (a - 1)) != 0)
                throw new ModelFormatException(path, $"{AlignmentKey} {alignObj} is not a power of two up to {MaxAlignment}");
            alignment = (int)a;
        }

        var tensors = new List<GgufTensorInfo>((int)Math.Min(nTensors, 1 << 16));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < nTensors; i++)
        {
            var info = ReadTensorInfo(path, ref r, file.Length);
            if (!names.Add(info.Name)) throw new ModelFormatException(path, $"duplicate tensor '{info.Name}'");
            tensors.Add(info);
        }

        long dataOffset = (r.Position + alignment - 1) / alignment * alignment;
        foreach (var t in tensors)
        {
            if (t.Offset % (ulong)alignment != 0) throw new ModelFormatException(path, $"tensor '{t.Name}' offset {t.Offset} is not aligned to {alignment}");
            // Each term is at most the file length, so the sum cannot wrap.
            if (t.Offset > (ulong)file.Length || (ulong)dataOffset + t.Offset + (ulong)t.ByteSize > (ulong)file.Length)
                throw new ModelFormatException(path, $"tensor '{t.Name}' data ({t.ByteSize} bytes at data offset {t.Offset}) lies past the end of the file (truncated?)");
        }
        return new GgufFile(path, file, version, metadata, tensors, dataOffset, alignment);
    }

    private static GgufTensorInfo ReadTensorInfo(string path, ref GgufCursor r, long fileLength)
    {
        string name = r.Str();
        uint nDims = r.U32();
        if (nDims is 0 or > MaxDims) throw new ModelFormatException(path, $"tensor '{name}' has {nDims} dimensions (1 to {MaxDims} allowed)");
        var shape = new long[nDims];
        long elements = 1;
        for (int d = 0; d < nDims; d++)
        {
            ulong dim = r.U64();
            if (dim == 0 || dim > long.MaxValue) throw new ModelFormatException(path, $"tensor '{name}' has dimension {dim}");
            if ((long)dim > long.MaxValue / elements) throw new ModelFormatException(path, $"tensor '{name}' element count overflows");
            shape[d] = (long)dim;
            elements *= (long)dim;
        }
        uint rawType = r.U32();
        var type = (GgmlType)rawType;
        if (!TypeTraits.IsSupported(type))
            throw new ModelFormatException(path, $"tensor '{name}' has unsupported type {(Enum.IsDefined(type) ? type.ToString() : rawType.ToString())}");
        long bs = TypeTraits.BlockSize(type), ts = TypeTraits.TypeSize(type);
        if (shape[0] % bs != 0) throw new ModelFormatException(path, $"tensor '{name}' row length {shape[0]} is not a multiple of the {type} block size {bs}");
        if (elements / bs > fileLength / ts) throw new ModelFormatException(path, $"tensor '{name}' ({type} [{string.Join(", ", shape)}]) is larger than the file");
        ulong offset = r.U64();
        return new GgufTensorInfo(name, shape, type, offset, elements / bs * ts);
    }

    /// <summary>True when a tensor with this name exists.</summary>
    public bool HasTensor(string name) => _byName.ContainsKey(name);

    /// <summary>The tensor's info, or null.</summary>
    public GgufTensorInfo? FindTensor(string name) => _byName.GetValueOrDefault(name);

    /// <summary>A view of the named tensor's mapped data; valid until this file is disposed.</summary>
    public WeightTensor GetTensor(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_byName.TryGetValue(name, out var t)) throw new ModelFormatException(Path, $"missing tensor '{name}'");
        return new WeightTensor(t.Name, t.Type, t.Shape, _file.Pointer + (nint)(DataOffset + (long)t.Offset), t.ByteSize);
    }

    public bool Has(string key) => Metadata.ContainsKey(key);

    // Typed getters: null when the key is absent, ModelFormatException when present with the wrong type,
    // so a hostile file can never provoke an InvalidCastException in the caller.

    public string? GetString(string key) => Metadata.TryGetValue(key, out var v) ? v as string ?? throw Bad(key, "a string", v) : null;

    /// <summary>Any integer-typed value as long; null when absent.</summary>
    public long? GetInteger(string key) => Metadata.TryGetValue(key, out var v) ? ToInteger(v) ?? throw Bad(key, "an integer", v) : null;

    /// <summary>Any integer-typed value that fits in an int; null when absent.</summary>
    public int? GetInt32(string key)
    {
        long? v = GetInteger(key);
        if (v is null) return null;
        if (v is < int.MinValue or > int.MaxValue) throw new ModelFormatException(Path, $"metadata '{key}' = {v} is out of range");
        return (int)v;
    }

    public double? GetFloat(string key) => Metadata.TryGetValue(key, out var v)
        ? v switch { float f => f, double d => d, bool => throw Bad(key, "a number", v), _ => ToInteger(v) ?? throw Bad(key, "a number", v) }
        : null;

    public bool? GetBool(string key) => Metadata.TryGetValue(key, out var v) ? v as bool? ?? throw Bad(key, "a bool", v) : null;

    public GgufArray? GetArray(string key) => Metadata.TryGetValue(key, out var v) ? v as GgufArray ?? throw Bad(key, "an array", v) : null;

    /// <summary>An array of strings; null when absent.</summary>
    public string[]? GetStringArray(string key) => GetArray(key) is { } a ? (a.ElementType == GgufValueType.String ? (string[])a.Values : throw Bad(key, "an array of strings", a)) : null;

    /// <summary>An array of float32 or float64 values as floats; null when absent.</summary>
    public float[]? GetFloatArray(string key) => GetArray(key) switch
    {
        null => null,
        { ElementType: GgufValueType.Float32 } a => (float[])a.Values,
        { ElementType: GgufValueType.Float64 } a => Array.ConvertAll((double[])a.Values, x => (float)x),
        var a => throw Bad(key, "an array of floats", a),
    };

    /// <summary>An array of any integer type whose values all fit in an int; null when absent.</summary>
    public int[]? GetInt32Array(string key)
    {
        if (GetArray(key) is not { } a) return null;
        if (a.ElementType == GgufValueType.Int32) return (int[])a.Values;
        if (a.ElementType is GgufValueType.Bool or GgufValueType.String or GgufValueType.Array or GgufValueType.Float32 or GgufValueType.Float64)
            throw Bad(key, "an array of integers", a);
        var result = new int[a.Count];
        for (int i = 0; i < result.Length; i++)
        {
            long? x = ToInteger(a.Values.GetValue(i)!);
            if (x is null or < int.MinValue or > int.MaxValue) throw new ModelFormatException(Path, $"metadata '{key}'[{i}] is out of range");
            result[i] = (int)x;
        }
        return result;
    }

    private ModelFormatException Bad(string key, string what, object actual) =>
        new(Path, $"metadata '{key}' is not {what} (found {Describe(actual)})");

    private static string Describe(object v) => v is GgufArray a ? $"array of {a.ElementType}" : v.GetType().Name;

    internal static long? ToInteger(object v) => v switch
    {
        byte b => b, sbyte sb => sb, ushort us => us, short s => s, uint u => u, int i => i,
        ulong ul => ul > long.MaxValue ? null : (long)ul, long l => l, _ => null,
    };

    public void Dispose()
    {
        _disposed = true;
        _file.Dispose();
    }
}
