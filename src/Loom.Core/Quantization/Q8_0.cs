namespace Loom.Core.Quantization;

/// <summary>
/// Q8_0: 32 values per 34-byte block. Layout: <c>Half d</c> (0-1), <c>sbyte qs[32]</c> (2-33); value = qs[j] * d.
/// Used both as a weight format and as the activation format for Q4_0/Q5_0/Q8_0 weights.
/// </summary>
/// <remarks>
/// ggml has two quantizers for it. Model files come from quantize_row_q8_0_ref: id = 1/d with d = amax/127, and
/// roundf (halves away from zero). Activations at inference on x86 (AVX/AVX2/AVX-512 builds) go through
/// ggml-cpu's quantize_row_q8_0: id = 127/amax computed directly, and _mm256_round_ps (halves to even). The two
/// differ in the last bit of id and on exact halves, so a quant can differ by one. <see cref="Quantize"/> is the
/// x86 runtime one (what <see cref="Quants.Quantize"/> uses), <see cref="QuantizeReference"/> the file one.
/// </remarks>
public static class Q8_0
{
    public const int BlockSize = 32;
    public const int BlockBytes = 34;

    /// <summary>Expands <c>dst.Length</c> values (a multiple of 32).</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = QuantMath.Blocks(dst.Length, BlockSize, BlockBytes, src.Length, nameof(Q8_0));
        for (int i = 0; i < nb; i++)
        {
            var b = src.Slice(i * BlockBytes, BlockBytes);
            var y = dst.Slice(i * BlockSize, BlockSize);
            float d = QuantMath.ReadHalf(b, 0);
            for (int j = 0; j < BlockSize; j++) y[j] = (sbyte)b[2 + j] * d;
        }
    }

    /// <summary>ggml-cpu's x86 quantize_row_q8_0 (activations): id = 127/amax, round half to even.</summary>
    public static unsafe void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q8_0));
        if (!HasVectorBlock) { QuantizeScalar(src, dst); return; }
        fixed (float* xs = src)
        fixed (byte* ds = dst)
            for (int i = 0; i < nb; i++)
            {
                byte* b = ds + i * BlockBytes;
                *(Half*)b = QuantizeBlock(xs + i * BlockSize, (sbyte*)(b + 2), out _);
            }
    }

    /// <summary>Whether <see cref="QuantizeBlock"/> has a vector body here (AVX-512, or 128-bit vectors: SSE4.1+, NEON).</summary>
    internal static bool HasVectorBlock => Avx512F.IsSupported || Vector128.IsHardwareAccelerated;

    /// <summary>
    /// One block of <see cref="Quantize"/>: stores the 32 quants at <paramref name="qs"/>, returns the scale and the
    /// quants' sum (for callers that carry it). Bit-exact with <see cref="QuantizeScalar"/>: the max is order-free and
    /// every quant is rounded alone. Needs <see cref="HasVectorBlock"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe Half QuantizeBlock(float* x, sbyte* qs, out int sum) =>
        Avx512F.IsSupported ? QuantizeBlock512(x, qs, out sum) : QuantizeBlock128(x, qs, out sum);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Half QuantizeBlock512(float* x, sbyte* qs, out int sum)
    {
        var absMask = Vector512.Create(0x7FFFFFFF).AsSingle();
        var lo = Vector512.Load(x);
        var hi = Vector512.Load(x + 16);
        float amax = HorizontalMax(Vector512.Max(lo & absMask, hi & absMask));
        var id = Vector512.Create(amax != 0 ? 127f / amax : 0f);
        // RoundToNearestInteger is round-half-to-even, as _mm256_round_ps with _MM_ROUND_NEAREST.
        var qlo = Avx512F.ConvertToVector512Int32(Avx512F.RoundScale(lo * id, 0));
        var qhi = Avx512F.ConvertToVector512Int32(Avx512F.RoundScale(hi * id, 0));
        Avx512F.ConvertToVector128SByteWithSaturation(qlo).Store(qs);
        Avx512F.ConvertToVector128SByteWithSaturation(qhi).Store(qs + 16);
        // Saturation cannot trigger (|x·id| ≤ 127), but the sum must be that of the stored bytes regardless.
        var min = Vector512.Create(-128); var max = Vector512.Create(127);
        sum = Vector512.Sum(Vector512.Clamp(qlo, min, max) + Vector512.Clamp(qhi, min, max));
        return (Half)(amax / 127f);
    }

    /// <summary>The portable body: eight 128-bit vectors, which every x86-64 tier below AVX-512 and ARM64 accelerate.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Half QuantizeBlock128(float* x, sbyte* qs, out int sum)
    {
        var amaxV = Vector128<float>.Zero;
        for (int j = 0; j < BlockSize; j += 4) amaxV = Vector128.Max(amaxV, Vector128.Abs(Vector128.Load(x + j)));
        amaxV = Vector128.Max(amaxV, Vector128.Shuffle(amaxV, Vector128.Create(2, 3, 0, 1)));
        float amax = MathF.Max(amaxV[0], amaxV[1]);
        var id = Vector128.Create(amax != 0 ? 127f / amax : 0f);
        var min = Vector128.Create(-128); var max = Vector128.Create(127);
        var total = Vector128<int>.Zero;
        for (int j = 0; j < BlockSize; j += 16)
        {
            var a = Vector128.Clamp(Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + j) * id)), min, max);
            var b = Vector128.Clamp(Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + j + 4) * id)), min, max);
            var c = Vector128.Clamp(Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + j + 8) * id)), min, max);
            var d = Vector128.Clamp(Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + j + 12) * id)), min, max);
            Vector128.Narrow(Vector128.Narrow(a, b), Vector128.Narrow(c, d)).Store(qs + j);
            total += (a + b) + (c + d);
        }
        sum = Vector128.Sum(total);
        return (Half)(amax / 127f);
    }

    /// <summary>The scalar form of <see cref="Quantize"/>, its reference.</summary>
    public static void QuantizeScalar(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q8_0));
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockSize, BlockSize);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            float amax = AbsMax(x);
            QuantMath.WriteHalf(b, 0, amax / 127f);
            float id = amax != 0 ? 127f / amax : 0f;
            for (int j = 0; j < BlockSize; j++) b[2 + j] = (byte)SaturateToSByte(QuantMath.RoundEven(x[j] * id));
        }
    }

    /// <summary>quantize_row_q8_0_ref (model files): d = amax/127, id = 1/d, roundf.</summary>
    public static void QuantizeReference(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = QuantMath.Blocks(src.Length, BlockSize, BlockBytes, dst.Length, nameof(Q8_0));
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockSize, BlockSize);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            float d = AbsMax(x) / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            QuantMath.WriteHalf(b, 0, d);
            for (int j = 0; j < BlockSize; j++) b[2 + j] = (byte)(sbyte)(int)QuantMath.RoundAway(x[j] * id);
        }
    }

    /// <summary>ggml_vec_dot_q8_0_q8_0 (scalar): per block sumf += sumi * (d_w*d_x).</summary>
    public static float Dot(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        int nb = QuantMath.Blocks(n, BlockSize, BlockBytes, w.Length, nameof(Q8_0));
        QuantMath.Blocks(n, BlockSize, BlockBytes, x.Length, nameof(Q8_0));
        float sumf = 0;
        for (int i = 0; i < nb; i++)
        {
            var a = w.Slice(i * BlockBytes, BlockBytes);
            var b = x.Slice(i * BlockBytes, BlockBytes);
            int sumi = 0;
            for (int j = 0; j < BlockSize; j++) sumi += (sbyte)a[2 + j] * (sbyte)b[2 + j];
            sumf += sumi * (QuantMath.ReadHalf(a, 0) * QuantMath.ReadHalf(b, 0));
        }
        return sumf;
    }

    /// <summary>
    /// The same dot product summed as llama.cpp's x86 kernels sum it (ggml_vec_dot_q8_0_q8_0 for AVX2 and
    /// tinyBLAS's Q8_0 path alike): eight float lanes, lane i taking the integer sum of products 4i..4i+3 of
    /// each block, fused-multiply-added with d_w·d_x, then reduced as hsum_float_8 does.
    /// </summary>
    public static float DotX86(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int n)
    {
        int nb = QuantMath.Blocks(n, BlockSize, BlockBytes, w.Length, nameof(Q8_0));
        QuantMath.Blocks(n, BlockSize, BlockBytes, x.Length, nameof(Q8_0));
        Span<float> acc = stackalloc float[8];
        acc.Clear();
        for (int i = 0; i < nb; i++)
        {
            var a = w.Slice(i * BlockBytes, BlockBytes);
            var b = x.Slice(i * BlockBytes, BlockBytes);
            float d = QuantMath.ReadHalf(a, 0) * QuantMath.ReadHalf(b, 0);
            for (int lane = 0; lane < 8; lane++)
            {
                int sum = 0;
                for (int k = 0; k < 4; k++) sum += (sbyte)a[2 + 4 * lane + k] * (sbyte)b[2 + 4 * lane + k];
                acc[lane] = MathF.FusedMultiplyAdd(d, sum, acc[lane]);
            }
        }
        float r0 = acc[4] + acc[0], r1 = acc[5] + acc[1], r2 = acc[6] + acc[2], r3 = acc[7] + acc[3];
        return (r0 + r2) + (r1 + r3);
    }

    private static float HorizontalMax(Vector512<float> v)
    {
        var a = Vector256.Max(v.GetLower(), v.GetUpper());
        var b = Vector128.Max(a.GetLower(), a.GetUpper());
        b = Vector128.Max(b, Vector128.Shuffle(b, Vector128.Create(2, 3, 0, 1)));
        return MathF.Max(b[0], b[1]);
    }

    internal static float AbsMax(ReadOnlySpan<float> x)
    {
        float amax = 0;
        for (int j = 0; j < x.Length; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
        return amax;
    }

    /// <summary>_mm256_packs_epi32/epi16 saturate; only reachable when a value rounds to exactly ±128-ish.</summary>
    internal static sbyte SaturateToSByte(float v) => (sbyte)Math.Clamp((int)v, sbyte.MinValue, sbyte.MaxValue);
}
