using System.Text;
using System.Text.Json;

namespace Loom.Models.Tests;

/// <summary>One tensor to write: dtype as safetensors spells it, row-major shape (outermost first), raw bytes.</summary>
public sealed record StTensor(string Name, string DType, long[] Shape, byte[] Data)
{
    public static StTensor F32(string name, long[] shape, float[] values) =>
        new(name, "F32", shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
}

/// <summary>Writes small .safetensors files for tests, laid out as the reference implementation does.</summary>
public static class SafeTensorsTestWriter
{
    public static byte[] Build(IEnumerable<StTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new Dictionary<string, object>();
        if (metadata is not null) header["__metadata__"] = metadata;
        var data = new MemoryStream();
        foreach (var t in tensors)
        {
            long begin = data.Length;
            data.Write(t.Data);
            header[t.Name] = new Dictionary<string, object> { ["dtype"] = t.DType, ["shape"] = t.Shape, ["data_offsets"] = new[] { begin, data.Length } };
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) / 8 * 8; // the format pads the header with spaces to keep data 8-aligned
        var result = new byte[8 + padded + data.Length];
        BitConverter.GetBytes((ulong)padded).CopyTo(result, 0);
        result.AsSpan(8, padded).Fill((byte)' ');
        json.CopyTo(result, 8);
        data.ToArray().CopyTo(result, 8 + padded);
        return result;
    }

    public static void Write(string path, IEnumerable<StTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        File.WriteAllBytes(path, Build(tensors, metadata));
}
