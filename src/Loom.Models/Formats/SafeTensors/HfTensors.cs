using System.Runtime.InteropServices;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// The tensors of one checkpoint as the loader asks for them: mapped views checked against the shape the config
/// implies, and, where llama.cpp's converter transforms a tensor (stacking experts, Gemma's norm + 1, an F32 router),
/// the transformed tensor made once into owned memory. Every failure names the tensor.
/// </summary>
internal sealed class HfTensors(SafeTensorsCheckpoint ckpt) : IDisposable
{
    /// <summary>Buffers of the transformed tensors; handed to the weights, or disposed when loading fails.</summary>
    public List<IDisposable> Owned { get; } = [];

    public string Path => ckpt.Path;

    public bool Has(string name) => ckpt.Has(name);

    private string FileOf(string name) => ckpt.FileOf(name)?.Path ?? ckpt.Path;

    /// <summary>A view of <paramref name="name"/>, which must have <paramref name="shape"/> in ggml order.</summary>
    public WeightTensor Get(string name, params long[] shape)
    {
        var t = ckpt.GetTensor(name);
        if (!t.Shape.SequenceEqual(shape))
            throw new ModelFormatException(FileOf(name),
                $"tensor '{name}' has shape [{string.Join(", ", t.Shape)}] (ggml order), config needs [{string.Join(", ", shape)}]");
        return t;
    }

    public WeightTensor? Optional(string name, bool wanted, params long[] shape) => wanted ? Get(name, shape) : null;

    /// <summary>
    /// Rows [<paramref name="first"/>, first + count) of a matrix, in place (Phi-3's fused projections): a view, not a copy.
    /// </summary>
    public static WeightTensor Rows(WeightTensor m, long first, long count) =>
        new($"{m.Name}[{first}:{first + count}]", m.Type, [m.Shape[0], count], m.Data + (nint)(first * m.RowBytes), count * m.RowBytes);

    /// <summary>
    /// The matrices <paramref name="names"/> (each of <paramref name="shape"/>) stacked into one tensor of shape
    /// [.., names.Count], the converter's <c>torch.stack(dim=0)</c> of per-expert weights; copied once, in the files' dtype.
    /// </summary>
    public unsafe WeightTensor Stack(string stackedName, IReadOnlyList<string> names, params long[] shape)
    {
        var parts = names.Select(n => Get(n, shape)).ToArray();
        var type = parts[0].Type;
        if (parts.FirstOrDefault(p => p.Type != type) is { } odd)
            throw new ModelFormatException(FileOf(odd.Name), $"tensor '{odd.Name}' is {odd.Type} but '{parts[0].Name}' is {type}: experts must share a dtype");
        long each = parts[0].ByteSize;
        var buffer = Own(each * parts.Length);
        for (int i = 0; i < parts.Length; i++)
            Buffer.MemoryCopy((void*)parts[i].Data, (byte*)buffer.Pointer + i * each, each, each);
        return new WeightTensor(stackedName, type, [.. shape, parts.Length], buffer.Pointer, each * parts.Length);
    }

    /// <summary>
    /// <paramref name="name"/> as F32 plus <paramref name="add"/>: Gemma's RMSNorm multiplies by 1 + w, which the
    /// converter stores as w + 1 (added in f32 here, as transformers computes it); 0 just widens, as routers must be F32.
    /// </summary>
    public WeightTensor F32(string name, float add, params long[] shape)
    {
        var t = Get(name, shape);
        if (t.Type == GgmlType.F32 && add == 0) return t;
        var buffer = Own(t.ElementCount * sizeof(float));
        var dst = buffer.AsSpan<float>();
        switch (t.Type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(t.Bytes).CopyTo(dst); break;
            case GgmlType.F16: FloatFormats.F16ToF32(MemoryMarshal.Cast<byte, Half>(t.Bytes), dst); break;
            case GgmlType.BF16: FloatFormats.BF16ToF32(MemoryMarshal.Cast<byte, ushort>(t.Bytes), dst); break;
            default: throw new ModelFormatException(FileOf(name), $"tensor '{name}' has type {t.Type}, which cannot be widened to F32");
        }
        if (add != 0)
            for (int i = 0; i < dst.Length; i++) dst[i] += add;
        return new WeightTensor(name, GgmlType.F32, t.Shape, buffer.Pointer, buffer.Length);
    }

    private NativeBuffer Own(long bytes)
    {
        var b = new NativeBuffer(bytes);
        Owned.Add(b);
        return b;
    }

    public void Dispose()
    {
        foreach (var o in Owned) o.Dispose();
        Owned.Clear();
    }
}
