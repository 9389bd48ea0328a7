using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Loom.Core.Kernels.Quantized;

/// <summary>Small helpers the tile kernels share.</summary>
internal static class Simd
{
    private static readonly float Pow2To112 = BitConverter.UInt32BitsToSingle((127 + 112) << 23);

    /// <summary>
    /// f16 bits to float for finite values: shifting the exponent and mantissa into place and scaling by 2^112
    /// re-biases the exponent, exactly for normal and subnormal halves alike. Block scales are never inf or NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float Half(byte* p)
    {
        uint h = *(ushort*)p;
        float magnitude = BitConverter.UInt32BitsToSingle((h & 0x7FFF) << 13) * Pow2To112;
        return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(magnitude) | ((h & 0x8000) << 16));
    }

    /// <summary>Four consecutive f16 values (block scales) to floats, exactly for finite values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<float> Halves4(byte* p)
    {
        var h = Vector128.WidenLower(Vector128.CreateScalar(*(ulong*)p).AsUInt16());
        var magnitude = Vector128.ShiftLeft(h & Vector128.Create(0x7FFFu), 13).AsSingle() * Vector128.Create(Pow2To112);
        return (magnitude.AsUInt32() | Vector128.ShiftLeft(h & Vector128.Create(0x8000u), 16)).AsSingle();
    }

    /// <summary>The eight lanes summed as ggml's hsum_float_8 (and tinyBLAS's hsum) sums them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalSum(Vector256<float> v)
    {
        var r = v.GetUpper() + v.GetLower();
        var s = r + Vector128.Shuffle(r, Vector128.Create(2, 3, 2, 3));
        return s.ToScalar() + s.GetElement(1);
    }

    /// <summary>Four accumulators' sums to y[0..3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store4(float* y, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
    {
        y[0] = HorizontalSum(a0); y[1] = HorizontalSum(a1); y[2] = HorizontalSum(a2); y[3] = HorizontalSum(a3);
    }
}
