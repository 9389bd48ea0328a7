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

    /// <summary>Rotates adjacent pairs (2i, 2i+1) of one head in place.</summary>
    public static void ApplyInterleaved(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        for (int i = 0; i < cos.Length; i++)
        {
            float x0 = head[2 * i], x1 = head[2 * i + 1];
            head[2 * i] = MathF.FusedMultiplyAdd(x0, cos[i], -(x1 * sin[i]));
            head[2 * i + 1] = MathF.FusedMultiplyAdd(x0, sin[i], x1 * cos[i]);
        }
    }

    /// <summary>Rotates halves (i, i + ropeDim/2) of one head in place (rotate_half / NeoX).</summary>
    public static void ApplyNeoX(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = cos.Length;
        for (int i = 0; i < half; i++)
        {
            float x0 = head[i], x1 = head[i + half];
            head[i] = MathF.FusedMultiplyAdd(x0, cos[i], -(x1 * sin[i]));
            head[i + half] = MathF.FusedMultiplyAdd(x0, sin[i], x1 * cos[i]);
        }
    }
}
