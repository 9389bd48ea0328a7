using System.Runtime.Intrinsics.Arm;
using Loom.Core.Kernels.Quantized;

namespace Loom.Core.Kernels;

/// <summary>
/// Which family of kernel bodies this process runs, fixed at start-up by the instruction sets the runtime reports
/// (the runtime's own <c>DOTNET_Enable…</c> switches can hide sets, which is how every tier is tested on one machine).
/// The kernels themselves branch on the same <c>IsSupported</c> constants, which the JIT folds away.
/// </summary>
public static class KernelTier
{
    /// <summary>
    /// The tier's name, as <c>loom bench</c>, <c>loom serve</c> and <c>/metrics</c> print it:
    /// <c>avx512-vnni</c> (tile-pair kernels, vpdpbusd), <c>avx2-vnni</c>, <c>avx512</c> (AVX-512F without AVX-VNNI:
    /// 512-bit float and quantizer paths, vpmaddubsw integer kernels; this includes Ice Lake-SP, whose 512-bit VNNI
    /// .NET 10 does not expose), <c>avx2-fma</c> (vpmaddubsw + vpmaddwd, as
    /// ggml's AVX2 path), <c>arm64-dotprod</c> (sdot) and <c>arm64-neon</c> (widening multiplies), and elsewhere
    /// <c>portable</c> (x86 without AVX2: vector float paths and quantizers, quantized matmuls on the scalar reference
    /// kernels) or <c>scalar</c> without any vector unit.
    /// </summary>
    public static string Name { get; } = Describe();

    /// <summary>Whether the quantized matmuls have SIMD kernels on this tier (otherwise they run the scalar references).</summary>
    public static bool QuantizedSimd => TileMath.IsSupported;

    private static string Describe()
    {
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            string width = Avx512F.IsSupported && Avx512BW.IsSupported ? "avx512" : "avx2";
            return AvxVnni.IsSupported ? width + "-vnni" : width == "avx2" ? "avx2-fma" : width;
        }
        if (AdvSimd.Arm64.IsSupported) return Dp.IsSupported ? "arm64-dotprod" : "arm64-neon";
        return Vector128.IsHardwareAccelerated ? "portable" : "scalar";
    }
}
