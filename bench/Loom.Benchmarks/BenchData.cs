using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Benchmarks;

/// <summary>Seeded random inputs shared by the benchmarks.</summary>
internal static class BenchData
{
    /// <summary>Values of roughly unit scale, as activations and (scaled) weights are.</summary>
    public static float[] Floats(int n, int seed)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary><paramref name="src"/> in <paramref name="type"/>'s layout (F32 as raw floats).</summary>
    public static byte[] Quantized(GgmlType type, float[] src)
    {
        var dst = new byte[TypeTraits.RowSize(type, src.Length)];
        Quants.Quantize(type, src, dst);
        return dst;
    }
}
