using System.Runtime.InteropServices;
using Loom.Core.Tensors;

namespace Loom.Core.Quantization;

/// <summary>
/// Dispatch over block formats: dequantize, quantize, and the dot product of a weight row with an
/// activation row that was first converted to the weight type's <see cref="VecDotType"/> (ggml's scheme:
/// Q8_0 activations for Q4_0/Q5_0/Q8_0 weights, Q8_1 for Q4_1/Q5_1, Q8_K for K-quants, F16 for F16).
/// These are the scalar reference paths; fast kernels are tested against them.
/// </summary>
public static class Quants
{
    /// <summary>The format activations are quantized to before a dot product with a row of <paramref name="weight"/>.</summary>
    public static GgmlType VecDotType(GgmlType weight) => weight switch
    {
        GgmlType.F32 => GgmlType.F32,
        // F16 weights meet float activations unrounded: the llama.cpp build behind our references does so.
        GgmlType.F16 => GgmlType.F32,
        GgmlType.BF16 => GgmlType.BF16,
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 => GgmlType.Q8_0,
        GgmlType.Q4_1 or GgmlType.Q5_1 => GgmlType.Q8_1,
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => GgmlType.Q8_K,
        _ => throw new NotSupportedException($"tensor type {weight} is not supported"),
    };

    /// <summary>Dequantizes <c>dst.Length</c> elements (a multiple of the block size) from <paramref name="src"/>.</summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(src)[..dst.Length].CopyTo(dst); break;
            case GgmlType.F16: FloatFormats.F16ToF32(MemoryMarshal.Cast<byte, Half>(src)[..dst.Length], dst); break;
            case GgmlType.BF16: FloatFormats.BF16ToF32(MemoryMarshal.Cast<byte, ushort>(src)[..dst.Length], dst); break;
            case GgmlType.Q4_0: Q4_0.Dequantize(src, dst); break;
            case GgmlType.Q4_1: Q4_1.Dequantize(src, dst); break;
            case GgmlType.Q5_0: Q5_0.Dequantize(src, dst); break;
            case GgmlType.Q5_1: Q5_1.Dequantize(src, dst); break;
            case GgmlType.Q8_0: Q8_0.Dequantize(src, dst); break;
            case GgmlType.Q8_1: Q8_1.Dequantize(src, dst); break;
            case GgmlType.Q2_K: Q2_K.Dequantize(src, dst); break;
            case GgmlType.Q3_K: Q3_K.Dequantize(src, dst); break;
            case GgmlType.Q4_K: Q4_K.Dequantize(src, dst); break;
            case GgmlType.Q5_K: Q5_K.Dequantize(src, dst); break;
            case GgmlType.Q6_K: Q6_K.Dequantize(src, dst); break;
            case GgmlType.Q8_K: Q8_K.Dequantize(src, dst); break;
            default: throw new NotSupportedException($"dequantize {type}");
        }
    }

    /// <summary>
    /// Quantizes <c>src.Length</c> elements (a multiple of the block size) into <paramref name="dst"/>, bit-exact with
    /// ggml. Weight formats use ggml's reference quantizers (what llama-quantize writes without an importance matrix).
    /// The activation formats Q8_0, Q8_1 and Q8_K use what ggml-cpu's x86 build runs at inference, which for Q8_0 and
    /// Q8_1 differs from the reference (see <see cref="Q8_0"/>); <see cref="Q8_0.QuantizeReference"/> and
    /// <see cref="Q8_1.QuantizeReference"/> give the file-writing variants.
    /// </summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<float, byte>(src).CopyTo(dst); break;
            case GgmlType.F16: FloatFormats.F32ToF16(src, MemoryMarshal.Cast<byte, Half>(dst)[..src.Length]); break;
            case GgmlType.BF16: FloatFormats.F32ToBF16(src, MemoryMarshal.Cast<byte, ushort>(dst)[..src.Length]); break;
            case GgmlType.Q4_0: Q4_0.Quantize(src, dst); break;
            case GgmlType.Q4_1: Q4_1.Quantize(src, dst); break;
            case GgmlType.Q5_0: Q5_0.Quantize(src, dst); break;
            case GgmlType.Q5_1: Q5_1.Quantize(src, dst); break;
            case GgmlType.Q8_0: Q8_0.Quantize(src, dst); break;
            case GgmlType.Q8_1: Q8_1.Quantize(src, dst); break;
            case GgmlType.Q2_K: Q2_K.Quantize(src, dst); break;
            case GgmlType.Q3_K: Q3_K.Quantize(src, dst); break;
            case GgmlType.Q4_K: Q4_K.Quantize(src, dst); break;
            case GgmlType.Q5_K: Q5_K.Quantize(src, dst); break;
            case GgmlType.Q6_K: Q6_K.Quantize(src, dst); break;
            case GgmlType.Q8_K: Q8_K.Quantize(src, dst); break;
            default: throw new NotSupportedException($"quantize {type}");
        }
    }

    /// <summary>
    /// Dot product of <paramref name="n"/> elements: weight row <paramref name="w"/> (type <paramref name="type"/>)
    /// with activations <paramref name="x"/> already in <see cref="VecDotType"/>(<paramref name="type"/>).
    /// </summary>
    /// <remarks>
    /// Block formats reproduce ggml's scalar vec_dot bit for bit (integer sums per block, then float scaling and
    /// accumulation in ggml's order). ggml's x86 SIMD kernels and llamafile's tinyBLAS (used for Q8_0/Q4_0/Q5_0 matmuls)
    /// sum the same products in a different order with FMA, so they differ from this in the last bits. Q8_1 and Q8_K
    /// are activation-only formats and have no dot product here.
    /// </remarks>
    public static float VecDot(GgmlType type, ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n) => VecDot(type, w, x, n, gemm: true);

    /// <summary>
    /// <see cref="VecDot(GgmlType, ReadOnlySpan{byte}, ReadOnlySpan{byte}, int)"/>, with float types summed in the order
    /// of a multi-token GEMM (<paramref name="gemm"/>) or of a single-token GEMV, as llama.cpp does for each.
    /// </summary>
    public static float VecDot(GgmlType type, ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n, bool gemm)
    {
        switch (type)
        {
            case GgmlType.F32:
                return Kernels.Dot.F32(MemoryMarshal.Cast<byte, float>(w)[..n], MemoryMarshal.Cast<byte, float>(x)[..n], gemm);
            case GgmlType.F16:
                return Kernels.Dot.F16F32(MemoryMarshal.Cast<byte, Half>(w)[..n], MemoryMarshal.Cast<byte, float>(x)[..n]);
            case GgmlType.BF16:
            {
                var a = MemoryMarshal.Cast<byte, ushort>(w);
                var b = MemoryMarshal.Cast<byte, ushort>(x);
                double s = 0;
                for (int i = 0; i < n; i++) s += FloatFormats.BF16ToF32(a[i]) * FloatFormats.BF16ToF32(b[i]);
                return (float)s;
            }
            case GgmlType.Q4_0: return Q4_0.Dot(w, x, n);
            case GgmlType.Q4_1: return Q4_1.Dot(w, x, n);
            case GgmlType.Q5_0: return Q5_0.Dot(w, x, n);
            case GgmlType.Q5_1: return Q5_1.Dot(w, x, n);
            case GgmlType.Q8_0: return Q8_0.DotX86(w, x, n);
            case GgmlType.Q2_K: return Q2_K.Dot(w, x, n);
            case GgmlType.Q3_K: return Q3_K.Dot(w, x, n);
            case GgmlType.Q4_K: return Q4_K.Dot(w, x, n);
            case GgmlType.Q5_K: return Q5_K.Dot(w, x, n);
            case GgmlType.Q6_K: return Q6_K.Dot(w, x, n);
            default: throw new NotSupportedException($"dot product for {type}");
        }
    }
}
