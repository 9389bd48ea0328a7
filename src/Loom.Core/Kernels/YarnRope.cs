namespace Loom.Core.Kernels;

/// <summary>
/// RoPE angles with YaRN scaling, in ggml's order and float arithmetic (<c>ggml_rope_yarn_corr_dims</c>,
/// <c>rope_yarn</c>): each frequency mixes its interpolated (position × freq scale) and extrapolated angle by a
/// ramp over the correction dimensions, and cos/sin carry the magnitude factor. With <c>extFactor</c> 0 this is
/// <see cref="Rope.Angles"/> with linear scaling, times <c>mscale</c>.
/// </summary>
public static class YarnRope
{
    /// <summary>The start and end correction dimensions for <paramref name="ropeDim"/> rotated dims.</summary>
    public static (float Low, float High) CorrectionDims(int ropeDim, int origContext, float theta, float betaFast, float betaSlow)
    {
        float Dim(float rot) => ropeDim * MathF.Log(origContext / (rot * 2 * MathF.PI)) / (2 * MathF.Log(theta));
        float start = MathF.Floor(Dim(betaFast)), end = MathF.Ceiling(Dim(betaSlow));
        return (MathF.Max(0, start), MathF.Min(ropeDim - 1, end));
    }

    /// <summary>Fills <paramref name="cos"/> and <paramref name="sin"/> (ropeDim/2 each) for one position.</summary>
    public static void Angles(int position, int ropeDim, float theta, float freqScale, float extFactor, (float Low, float High) corr,
        float mscale, Span<float> cos, Span<float> sin)
    {
        float thetaScale = MathF.Pow(theta, -2.0f / ropeDim);
        float t = position;
        if (extFactor != 0) mscale *= 1.0f + 0.1f * MathF.Log(1.0f / freqScale);
        for (int i = 0; i < ropeDim / 2; i++)
        {
            float interp = freqScale * t, angle = interp;
            if (extFactor != 0)
            {
                float y = (i - corr.Low) / MathF.Max(0.001f, corr.High - corr.Low);
                float mix = (1 - MathF.Min(1, MathF.Max(0, y))) * extFactor;
                angle = interp * (1 - mix) + t * mix;
            }
            cos[i] = MathF.Cos(angle) * mscale;
            sin[i] = MathF.Sin(angle) * mscale;
            t *= thetaScale;
        }
    }
}
