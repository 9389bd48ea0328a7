namespace Loom.Core.Kernels;

/// <summary>
/// Rotary position embedding. Angles follow ggml's recurrence (theta multiplied by base^(-2/d) per pair, in
/// float) so results agree with llama.cpp to the last bits that matter.
/// </summary>
public static class Rope
{
    /// <summary>
    /// Fills <paramref name="cos"/> and <paramref name="sin"/> (each ropeDim/2 long) for one position.
    /// <paramref name="freqFactors"/> divides each frequency's angle (Llama 3 scaling); <paramref name="freqScale"/> scales positions.
    /// </summary>
    public static void Angles(int position, int ropeDim, float theta, float freqScale, ReadOnlySpan<float> freqFactors, Span<float> cos, Span<float> sin)
    {
        float thetaScale = MathF.Pow(theta, -2.0f / ropeDim);
        float t = position;
        for (int i = 0; i < ropeDim / 2; i++)
        {
            float ff = freqFactors.IsEmpty ? 1.0f : freqFactors[i];
            float angle = freqScale * (t / ff);
            cos[i] = MathF.Cos(angle);
            sin[i] = MathF.Sin(angle);
            t *= thetaScale;
        }
    }

    /// <summary>Rotates adjacent pairs (2i, 2i+1) of one head in place.</summary>
    public static void ApplyInterleaved(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        for (int i = 0; i < cos.Length; i++)
        {
            float x0 = head[2 * i], x1 = head[2 * i + 1];
            head[2 * i] = x0 * cos[i] - x1 * sin[i];
            head[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
        }
    }

    /// <summary>Rotates halves (i, i + ropeDim/2) of one head in place (rotate_half / NeoX).</summary>
    public static void ApplyNeoX(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = cos.Length;
        for (int i = 0; i < half; i++)
        {
            float x0 = head[i], x1 = head[i + half];
            head[i] = x0 * cos[i] - x1 * sin[i];
            head[i + half] = x0 * sin[i] + x1 * cos[i];
        }
    }
}
