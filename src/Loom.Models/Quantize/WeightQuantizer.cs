using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Models.Quantize;

/// <summary>
/// Converts float rows to a tensor type the way llama-quantize writes model files: ggml's reference quantizers
/// (<see cref="Quants.Quantize"/>), except Q8_0, whose file variant (<see cref="Q8_0.QuantizeReference"/>) differs
/// from the activation quantizer <see cref="Quants.Quantize"/> runs at inference.
/// </summary>
public static class WeightQuantizer
{
    /// <summary>Quantizes <c>src.Length</c> elements (whole rows, a multiple of the block size) into <paramref name="dst"/>.</summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (type == GgmlType.Q8_0) Q8_0.QuantizeReference(src, dst);
        else Quants.Quantize(type, src, dst);
    }

    /// <summary>True when <see cref="Quantize"/> can write <paramref name="type"/>.</summary>
    public static bool CanWrite(GgmlType type)
    {
        if (!TypeTraits.IsSupported(type) || type is GgmlType.Q8_1 or GgmlType.Q8_K) return false;
        try { Quantize(type, new float[TypeTraits.BlockSize(type)], new byte[TypeTraits.TypeSize(type)]); return true; }
        catch (NotSupportedException) { return false; }
    }
}
