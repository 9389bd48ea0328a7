using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Loom.Core.Kernels;

/// <summary>
/// Rotary position embedding. Angles follow ggml's recurrence (theta multiplied by base^(-2/d) per pair, in
/// float), and each rotation is one fused multiply-add, as GCC compiles llama.cpp's, so Q and K come out
/// bit-identical to the reference (small models amplify even last-bit differences in attention).
/// </summary>
public static class Rope
{
    /// <summary>
    /// Fills <paramref name="cos"/> and <paramref name="sin"/> (each ropeDim/2 long) for one position.
    /// <paramref name="freqFactors"/> divides each frequency's angle (Llama 3 scaling, LongRoPE); <paramref name="freqScale"/>
    /// scales positions; <paramref name="mscale"/> multiplies both cos and sin, as ggml's <c>attn_factor</c> does.
    /// </summary>
    public static void Angles(int position, int ropeDim, float theta, float freqScale, ReadOnlySpan<float> freqFactors, Span<float> cos, Span<float> sin, float mscale = 1f)
    {
        float thetaScale = MathF.Pow(theta, -2.0f / ropeDim);
        float t = position;
        for (int i = 0; i < ropeDim / 2; i++)
        {
            float ff = freqFactors.IsEmpty ? 1.0f : freqFactors[i];
            float angle = freqScale * (t / ff);
            cos[i] = MathF.Cos(angle) * mscale;
            sin[i] = MathF.Sin(angle) * mscale;
            t *= thetaScale;
        }
    }

    /// <summary>
    /// Rotates adjacent pairs (2i, 2i+1) of one head in place: four pairs per step, each lane the reference's two
    /// roundings (<see cref="ApplyInterleavedReference"/>, which it equals bit for bit).
    /// </summary>
    public static void ApplyInterleaved(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            ref float h = ref MemoryMarshal.GetReference(head);
            ref float c = ref MemoryMarshal.GetReference(cos), s = ref MemoryMarshal.GetReference(sin);
            var odd = Vector128.Create(0, -1, 0, -1).AsSingle();
            for (; i + 4 <= cos.Length; i += 4)
            {
                var c4 = Vector128.LoadUnsafe(ref c, (nuint)i);
                var s4 = Vector128.LoadUnsafe(ref s, (nuint)i);
                Pairs(ref h, 2 * i, Vector128.Shuffle(c4, Vector128.Create(0, 0, 1, 1)), Vector128.Shuffle(s4, Vector128.Create(0, 0, 1, 1)), odd);
                Pairs(ref h, 2 * i + 4, Vector128.Shuffle(c4, Vector128.Create(2, 2, 3, 3)), Vector128.Shuffle(s4, Vector128.Create(2, 2, 3, 3)), odd);
            }
        }
        ApplyInterleavedReference(head[(2 * i)..], cos[i..], sin[i..]);
    }

    // Lanes x0 x1 of each pair: the even lane takes fma(x0, c, -(x1·s)), the odd one fma(x0, s, x1·c).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pairs(ref float head, int at, Vector128<float> c, Vector128<float> s, Vector128<float> odd)
    {
        var x = Vector128.LoadUnsafe(ref head, (nuint)at);
        var swapped = Vector128.Shuffle(x, Vector128.Create(1, 0, 3, 2));
        var even = Vector128.FusedMultiplyAdd(x, c, -(swapped * s));
        var oddLane = Vector128.FusedMultiplyAdd(swapped, s, x * c);
        Vector128.ConditionalSelect(odd, oddLane, even).StoreUnsafe(ref head, (nuint)at);
    }

    /// <summary>The scalar form of <see cref="ApplyInterleaved"/>.</summary>
    public static void ApplyInterleavedReference(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        for (int i = 0; i < cos.Length; i++)
        {
            float x0 = head[2 * i], x1 = head[2 * i + 1];
            head[2 * i] = MathF.FusedMultiplyAdd(x0, cos[i], -(x1 * sin[i]));
            head[2 * i + 1] = MathF.FusedMultiplyAdd(x0, sin[i], x1 * cos[i]);
        }
    }

    /// <summary>
    /// Rotates halves (i, i + ropeDim/2) of one head in place (rotate_half / NeoX), four pairs per step; equals
    /// <see cref="ApplyNeoXReference"/> bit for bit.
    /// </summary>
    public static void ApplyNeoX(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = cos.Length, i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            ref float h = ref MemoryMarshal.GetReference(head);
            ref float c = ref MemoryMarshal.GetReference(cos), s = ref MemoryMarshal.GetReference(sin);
            for (; i + 4 <= half; i += 4)
            {
                var x0 = Vector128.LoadUnsafe(ref h, (nuint)i);
                var x1 = Vector128.LoadUnsafe(ref h, (nuint)(i + half));
                var c4 = Vector128.LoadUnsafe(ref c, (nuint)i);
                var s4 = Vector128.LoadUnsafe(ref s, (nuint)i);
                Vector128.FusedMultiplyAdd(x0, c4, -(x1 * s4)).StoreUnsafe(ref h, (nuint)i);
                Vector128.FusedMultiplyAdd(x0, s4, x1 * c4).StoreUnsafe(ref h, (nuint)(i + half));
            }
        }
        for (; i < half; i++) Rotate(head, i, i + half, cos[i], sin[i]);
    }

    /// <summary>The scalar form of <see cref="ApplyNeoX"/>.</summary>
    public static void ApplyNeoXReference(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        for (int i = 0; i < cos.Length; i++) Rotate(head, i, i + cos.Length, cos[i], sin[i]);
    }

    private static void Rotate(Span<float> head, int a, int b, float cos, float sin)
    {
        float x0 = head[a], x1 = head[b];
        head[a] = MathF.FusedMultiplyAdd(x0, cos, -(x1 * sin));
        head[b] = MathF.FusedMultiplyAdd(x0, sin, x1 * cos);
    }
}
