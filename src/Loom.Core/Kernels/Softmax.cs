namespace Loom.Core.Kernels;

/// <summary>Numerically stable softmax.</summary>
public static class Softmax
{
    /// <summary>In place: x = exp(x - max) / sum. The sum runs in double, as ggml's.</summary>
    public static void Apply(Span<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (var v in x) if (v > max) max = v;
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float e = x[i] == float.NegativeInfinity ? 0f : MathF.Exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int i = 0; i < x.Length; i++) x[i] *= inv;
    }

    /// <summary>log(sum(exp(x))), shifted by the maximum and summed in double: the one scalar log-sum-exp (the sampler's vector one is checked against it).</summary>
    public static double LogSumExp(ReadOnlySpan<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (var v in x) if (v > max) max = v;
        double sum = 0;
        foreach (var v in x) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }
}
