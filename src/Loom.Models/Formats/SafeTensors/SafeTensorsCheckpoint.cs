using System.Text.Json;
using System.Text.Unicode;
using Loom.Core.Tensors;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// The weights of a Hugging Face checkpoint directory: one <c>model.safetensors</c>, or several shards
/// listed by <c>model.safetensors.index.json</c>'s <c>weight_map</c>. Tensors are looked up by name across
/// shards; names that a file's <c>__metadata__</c> declares as aliases of a stored tensor resolve to it.
/// </summary>
public sealed class SafeTensorsCheckpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafeTensorsFile> _files;
    private readonly Dictionary<string, SafeTensorsFile> _byName;
    private readonly Dictionary<string, string> _aliases;

    private SafeTensorsCheckpoint(string path, List<SafeTensorsFile> files, Dictionary<string, SafeTensorsFile> byName)
    {
        Path = path;
        _files = files;
        _byName = byName;
        // torch's save_file drops shared tensors and records "alias": "stored name" in the metadata.
        _aliases = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in files)
            foreach (var (k, v) in f.Metadata)
                if (!byName.ContainsKey(k) && byName.ContainsKey(v)) _aliases.TryAdd(k, v);
    }

    /// <summary>The directory (or single file) the checkpoint was opened from.</summary>
    public string Path { get; }

    /// <summary>The opened files (one, or each shard once).</summary>
    public IReadOnlyList<SafeTensorsFile> Files => _files;

    /// <summary>Names of stored tensors (aliases excluded).</summary>
    public IEnumerable<string> TensorNames => _byName.Keys;

    /// <summary>True when the tensor is stored, or is an alias of a stored tensor.</summary>
    public bool Has(string name) => _byName.ContainsKey(name) || _aliases.ContainsKey(name);

    /// <summary>The file holding <paramref name="name"/> (after alias resolution), or null.</summary>
    public SafeTensorsFile? FileOf(string name) => _byName.GetValueOrDefault(Resolve(name));

    /// <summary>The tensor, in ggml shape order; <see cref="ModelFormatException"/> when absent or unusable.</summary>
    public WeightTensor GetTensor(string name)
    {
        if (!_byName.TryGetValue(Resolve(name), out var file)) throw new ModelFormatException(Path, $"missing tensor '{name}'");
        return file.GetTensor(Resolve(name));
    }

    private string Resolve(string name) => _aliases.GetValueOrDefault(name, name);

    /// <summary>
    /// Opens <paramref name="path"/>: a directory holding <c>model.safetensors.index.json</c> or
    /// <c>model.safetensors</c> (or exactly one <c>*.safetensors</c>), or a single <c>.safetensors</c> file.
    /// </summary>
    public static SafeTensorsCheckpoint Open(string path)
    {
        if (File.Exists(path)) return FromFiles(path, [path], null);
        if (!Directory.Exists(path)) throw new ModelFormatException(path, "no such file or directory");

        string index = System.IO.Path.Combine(path, IndexFileName);
        if (File.Exists(index)) return OpenSharded(path, index);
        string single = System.IO.Path.Combine(path, SingleFileName);
        if (File.Exists(single)) return FromFiles(path, [single], null);
        var any = Directory.GetFiles(path, "*.safetensors");
        if (any.Length == 1) return FromFiles(path, any, null);
        throw new ModelFormatException(path, any.Length == 0
            ? "no model.safetensors or model.safetensors.index.json"
            : $"{any.Length} .safetensors files but no {IndexFileName} saying how they fit together");
    }

    private static SafeTensorsCheckpoint OpenSharded(string directory, string indexPath)
    {
        var weightMap = ReadWeightMap(indexPath);
        var shardNames = weightMap.Values.Distinct(StringComparer.Ordinal).ToList();
        var shards = shardNames.Select(n => System.IO.Path.Combine(directory, n)).ToList();
        return FromFiles(directory, shards, weightMap);
    }

    private static SafeTensorsCheckpoint FromFiles(string path, IReadOnlyList<string> filePaths, Dictionary<string, string>? weightMap)
    {
        var files = new List<SafeTensorsFile>();
        try
        {
            var byName = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            var byFileName = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (var fp in filePaths)
            {
                var f = SafeTensorsFile.Open(fp);
                files.Add(f);
                byFileName[System.IO.Path.GetFileName(fp)] = f;
                if (weightMap is not null) continue;
                foreach (var n in f.TensorNames)
                    if (!byName.TryAdd(n, f)) throw new ModelFormatException(fp, $"tensor '{n}' is stored twice");
            }
            if (weightMap is not null)
            {
                // The index is the authority, but it must agree with what the shards hold.
                foreach (var (tensor, shard) in weightMap)
                {
                    var f = byFileName[shard];
                    if (!f.Has(tensor)) throw new ModelFormatException(f.Path, $"missing tensor '{tensor}' that {IndexFileName} places in this shard");
                    byName[tensor] = f;
                }
            }
            return new SafeTensorsCheckpoint(path, files, byName);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        try
        {
            var bytes = File.ReadAllBytes(indexPath);
            if (!Utf8.IsValid(bytes)) throw new ModelFormatException(indexPath, "not valid UTF-8");
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(indexPath, "no weight_map object");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String) throw new ModelFormatException(indexPath, $"weight_map entry '{p.Name}' is not a file name");
                string shard = p.Value.GetString()!;
                // Shards must sit beside the index: no directories, so the map cannot point elsewhere on disk.
                if (shard.Length == 0 || shard != System.IO.Path.GetFileName(shard) || shard is "." or "..")
                    throw new ModelFormatException(indexPath, $"weight_map entry '{p.Name}' names '{shard}', which is not a file beside the index");
                if (!result.TryAdd(p.Name, shard)) throw new ModelFormatException(indexPath, $"duplicate weight_map entry '{p.Name}'");
            }
            if (result.Count == 0) throw new ModelFormatException(indexPath, "weight_map is empty");
            return result;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ModelFormatException(indexPath, $"cannot read the shard index: {e.Message}", e);
        }
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _files.Clear();
    }
}
