using System.Text.Json;
using System.Text.Unicode;
using Loom.Core.Tensors;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// One memory-mapped <c>.safetensors</c> file: an 8-byte little-endian header length, a JSON header
/// <c>{name: {dtype, shape, data_offsets}, __metadata__: {..}}</c>, then the raw tensor bytes.
/// Every structural problem surfaces as <see cref="ModelFormatException"/> at <see cref="Open"/>;
/// a tensor whose dtype Loom cannot use is refused only when it is requested.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    /// <summary>The reference implementation's limit; anything larger is corrupt or hostile.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly MappedFile _file;
    private readonly Dictionary<string, SafeTensorsEntry> _entries;
    private readonly Dictionary<string, WeightTensor> _views = [];

    private SafeTensorsFile(MappedFile file, long dataStart, Dictionary<string, SafeTensorsEntry> entries,
        List<string> names, Dictionary<string, string> metadata)
    {
        _file = file;
        DataStart = dataStart;
        _entries = entries;
        TensorNames = names;
        Metadata = metadata;
    }

    public string Path => _file.Path;

    /// <summary>File offset of the first data byte (8 + header length).</summary>
    public long DataStart { get; }

    /// <summary>The free-form <c>__metadata__</c> string map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names in header order.</summary>
    public IReadOnlyList<string> TensorNames { get; }

    public bool Has(string name) => _entries.ContainsKey(name);

    /// <summary>The tensor's dtype as the file spells it (F32, BF16, I64, ...), or null when absent.</summary>
    public string? DType(string name) => _entries.TryGetValue(name, out var e) ? e.DType : null;

    /// <summary>Shape in the file's row-major order (outermost first), or null when absent.</summary>
    public IReadOnlyList<long>? RowMajorShape(string name) => _entries.TryGetValue(name, out var e) ? e.Shape : null;

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    public static SafeTensorsFile Open(string path)
    {
        MappedFile file;
        try { file = new MappedFile(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ModelFormatException(path, $"cannot open: {e.Message}", e);
        }
        try { return Parse(file); }
        catch { file.Dispose(); throw; }
    }

    private static SafeTensorsFile Parse(MappedFile file)
    {
        string path = file.Path;
        if (file.Length < 8) throw new ModelFormatException(path, $"file of {file.Length} bytes is too short for a safetensors header");
        ulong headerLen = *(ulong*)file.Pointer;
        if (headerLen < 2 || headerLen > MaxHeaderBytes || (long)headerLen > file.Length - 8)
            throw new ModelFormatException(path, $"header length {headerLen} is absurd for a {file.Length}-byte file");
        long dataStart = 8 + (long)headerLen;
        long dataLength = file.Length - dataStart;

        var headerBytes = file.Span(8, (int)headerLen);
        // JsonDocument checks string encoding only when a string is read; check it all up front.
        if (!Utf8.IsValid(headerBytes)) throw new ModelFormatException(path, "header is not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(headerBytes.ToArray(), new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (Exception e) when (e is JsonException or ArgumentException) { throw new ModelFormatException(path, $"header is not valid JSON: {e.Message}", e); }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "header is not a JSON object");
            var entries = new Dictionary<string, SafeTensorsEntry>(StringComparer.Ordinal);
            var names = new List<string>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (sawMetadata) throw new ModelFormatException(path, "duplicate __metadata__");
                    sawMetadata = true;
                    ReadMetadata(path, prop.Value, metadata);
                    continue;
                }
                var entry = SafeTensorsEntry.Parse(path, prop.Name, prop.Value, dataLength);
                if (!entries.TryAdd(prop.Name, entry)) throw new ModelFormatException(path, $"duplicate tensor '{prop.Name}'");
                names.Add(prop.Name);
            }
            return new SafeTensorsFile(file, dataStart, entries, names, metadata);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "__metadata__ is not a JSON object");
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String) throw new ModelFormatException(path, $"__metadata__ value '{m.Name}' is not a string");
            if (!metadata.TryAdd(m.Name, m.Value.GetString()!)) throw new ModelFormatException(path, $"duplicate __metadata__ key '{m.Name}'");
        }
    }

    /// <summary>
    /// A view of tensor <paramref name="name"/> in ggml order (the file's shape reversed, so a
    /// row-major [out, in] matrix becomes <c>Shape = [in, out]</c>). Only F32, F16 and BF16 are usable.
    /// </summary>
    public WeightTensor GetTensor(string name)
    {
        lock (_views)
        {
            if (!_views.TryGetValue(name, out var view)) _views[name] = view = CreateView(name);
            return view;
        }
    }

    private WeightTensor CreateView(string name)
    {
        if (!_entries.TryGetValue(name, out var e)) throw new ModelFormatException(Path, $"missing tensor '{name}'");
        GgmlType type = e.DType switch
        {
            "F32" => GgmlType.F32,
            "F16" => GgmlType.F16,
            "BF16" => GgmlType.BF16,
            _ => throw new ModelFormatException(Path, $"tensor '{name}' has dtype {e.DType}, which Loom cannot use (only F32, F16, BF16)"),
        };
        // ggml order: innermost dimension first; a scalar becomes one element.
        long[] shape = e.Shape.Length == 0 ? [1] : e.Shape.Reverse().ToArray();
        return new WeightTensor(name, type, shape, _file.Pointer + (nint)(DataStart + e.Begin), e.End - e.Begin);
    }

    public void Dispose() => _file.Dispose();

    public override string ToString() => $"{Path} ({TensorNames.Count} tensors)";
}
