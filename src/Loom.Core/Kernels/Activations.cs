namespace Loom.Core.Kernels;

/// <summary>Element-wise activation functions.</summary>
public static class Activations
{
    /// <summary>SiLU(x) = x * sigmoid(x).</summary>
    public static float Silu(float x) => x / (1.0f + MathF.Exp(-x));

    /// <summary>GELU, tanh approximation, in ggml's float expression: 0.5x(1 + tanh(√(2/π)·x·(1 + 0.044715x²))).</summary>
    public static float GeluTanh(float x) => 0.5f * x * (1.0f + MathF.Tanh(0.79788456080286535587989211986876f * x * (1.0f + 0.044715f * x * x)));

    /// <summary>
    /// GELU as ggml's CPU backend computes it: inside (-10, 10) the input is rounded to f16 and looked up in a table of
    /// f16 results (here computed, not tabled); outside, 0 or x.
    /// </summary>
    public static float GeluGgml(float x) =>
        x <= -10f ? 0f : x >= 10f ? x : (float)(Half)GeluTanh((float)(Half)x);

    /// <summary>gate[i] = GELU(gate[i]) * up[i] (GeGLU, Gemma), with ggml's f16-rounded GELU.</summary>
    public static void GeGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++) gate[i] = GeluGgml(gate[i]) * up[i];
    }

    /// <summary>gate[i] = SiLU(gate[i]) * up[i] (SwiGLU).</summary>
    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++) gate[i] = Silu(gate[i]) * up[i];
    }
}
