using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Loom.Core.Tensors;

namespace Loom.Core.Tests;

/// <summary>
/// Reads Fixtures/quant: outputs of llama.cpp c392e50's ggml (ggml-quants.c and ggml-cpu/ggml-cpu-quants.c compiled
/// into a small C program, not part of this repository) for fixed pseudo-random inputs.
/// <list type="bullet">
/// <item><c>w.f32</c>, <c>x.f32</c>: 2048 weights and 2048 activations, eight 256-value chunks of different kinds
/// (gaussian, offset, half zero, exact .5 ties with max 127, large, mostly negative, on the Q4_0 grid, outliers).</item>
/// <item><c>{type}.w</c>: quantize_row_{type}_ref(w); <c>{type}.w.deq.f32</c>: dequantize_row_{type} of it.</item>
/// <item><c>{q8_0,q8_1,q8_K}.x.ref</c>: the _ref quantizers on x; <c>.x.rt.native</c>: ggml-cpu's quantize_row_* built
/// with -march=native (AVX2/AVX-512, what x86 inference runs); <c>.x.rt.generic</c>: the same built without SIMD.</item>
/// <item><c>dots.{generic,native}.txt</c>: "type n float-bits value" of ggml_vec_dot_{type}_{vec_dot_type} over the first
/// n elements, with the activations that build's runtime quantizer produced. The generic build used -ffp-contract=off.</item>
/// <item><c>conv.src.f32</c> (w plus 16 special values), <c>conv.f16</c> (F16C), <c>conv.bf16</c> (ggml_compute_fp32_to_bf16).</item>
/// </list>
/// </summary>
internal static class QuantFixtures
{
    public static string Dir([CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "Fixtures", "quant");

    public static byte[] Bytes(string name) => File.ReadAllBytes(Path.Combine(Dir(), name));

    public static float[] Floats(string name) => MemoryMarshal.Cast<byte, float>(Bytes(name)).ToArray();

    public static (string Type, int N, uint Bits)[] Dots(string build) =>
        File.ReadAllLines(Path.Combine(Dir(), $"dots.{build}.txt"))
            .Where(l => l.Length > 0)
            .Select(l => l.Split(' '))
            .Select(p => (p[0], int.Parse(p[1], CultureInfo.InvariantCulture), uint.Parse(p[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture)))
            .ToArray();

    public static GgmlType Type(string name) => name switch
    {
        "q4_0" => GgmlType.Q4_0, "q4_1" => GgmlType.Q4_1, "q5_0" => GgmlType.Q5_0, "q5_1" => GgmlType.Q5_1,
        "q8_0" => GgmlType.Q8_0, "q8_1" => GgmlType.Q8_1, "q2_K" => GgmlType.Q2_K, "q3_K" => GgmlType.Q3_K,
        "q4_K" => GgmlType.Q4_K, "q5_K" => GgmlType.Q5_K, "q6_K" => GgmlType.Q6_K, "q8_K" => GgmlType.Q8_K,
        _ => throw new ArgumentException(name),
    };

    public static string Name(GgmlType t) => t.ToString().ToLowerInvariant().Replace("_k", "_K");

    /// <summary>Index of the first differing byte, or -1; keeps assertion messages short for large buffers.</summary>
    public static int FirstDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length) return Math.Min(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) return i;
        return -1;
    }
}
