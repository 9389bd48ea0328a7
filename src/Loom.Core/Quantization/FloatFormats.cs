namespace Loom.Core.Quantization;

/// <summary>Conversions between float32 and the 16-bit float formats, rounding as ggml does.</summary>
/// <remarks>
/// fp16: ggml's x86 build converts with F16C (_cvtss_sh / _mm256_cvtps_ph, rounding mode 0 = nearest even), and its
/// portable fallback also rounds to nearest even; System.Half's conversion does the same, including subnormals,
/// overflow to infinity and quiet NaNs (checked against F16C output in the tests). bf16: ggml_compute_fp32_to_bf16.
/// </remarks>
public static class FloatFormats
{
    /// <summary>Exact widening, sixteen at a time (<see cref="Kernels.Dot.Widen"/>).</summary>
    public static void F16ToF32(ReadOnlySpan<Half> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException("destination too short", nameof(dst));
        int i = 0;
        ref Half s = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(src);
        ref float d = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dst);
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
            unsafe
            {
                fixed (Half* sp = src)
                fixed (float* dp = dst)
                    for (; i + 8 <= src.Length; i += 8) System.Runtime.Intrinsics.Vector256.Store(Kernels.Dot.Widen8((ushort*)sp + i), dp + i);
            }
        for (; i + 16 <= src.Length; i += 16)
            System.Runtime.Intrinsics.Vector512.StoreUnsafe(Kernels.Dot.Widen(ref System.Runtime.CompilerServices.Unsafe.Add(ref s, i)), ref d, (nuint)i);
        for (; i < src.Length; i++) dst[i] = (float)src[i];
    }

    /// <summary>Round-to-nearest-even, as F16C does.</summary>
    public static void F32ToF16(ReadOnlySpan<float> src, Span<Half> dst)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = (Half)src[i];
    }

    public static float BF16ToF32(ushort v) => BitConverter.Int32BitsToSingle(v << 16);

    /// <summary>Round-to-nearest-even, NaN kept quiet (ggml_compute_fp32_to_bf16).</summary>
    public static ushort F32ToBF16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7fffffff) > 0x7f800000) return (ushort)((u >> 16) | 64);
        return (ushort)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
    }

    public static void BF16ToF32(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = BF16ToF32(src[i]);
    }

    public static void F32ToBF16(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = F32ToBF16(src[i]);
    }
}
