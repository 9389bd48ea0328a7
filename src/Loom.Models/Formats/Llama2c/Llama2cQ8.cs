using System.Runtime.CompilerServices;
using Loom.Core.Tensors;

namespace Loom.Models.Formats.Llama2c;

/// <summary>
/// Dequantizes a llama2.c v2 tensor: int8 values, then one fp32 scale per group of values. Groups run
/// over the tensor as one flat array and may cross row boundaries (stories260K-q8 has group size 8 and
/// rows of 172), so the result cannot be kept as ggml Q8_0 blocks; it becomes F32.
/// </summary>
internal static unsafe class Llama2cQ8
{
    public static WeightTensor Dequantize(MappedFile file, Llama2cTensor t, List<IDisposable> owners)
    {
        var buffer = new NativeBuffer(checked(t.Elements * 4));
        owners.Add(buffer);
        var q = (sbyte*)(file.Pointer + (nint)t.Offset);
        // The scales follow the int8 values directly, so an odd group size leaves them unaligned.
        var scales = (byte*)(file.Pointer + (nint)(t.Offset + t.Elements));
        var dst = (float*)buffer.Pointer;
        long groups = t.Elements / t.GroupSize;
        for (long g = 0; g < groups; g++)
        {
            float scale = Unsafe.ReadUnaligned<float>(scales + g * 4);
            long start = g * t.GroupSize;
            for (long i = start; i < start + t.GroupSize; i++) dst[i] = q[i] * scale;
        }
        return new WeightTensor(t.Name, GgmlType.F32, t.Shape, buffer.Pointer, buffer.Length);
    }
}
