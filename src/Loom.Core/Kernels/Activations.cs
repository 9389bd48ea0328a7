namespace Loom.Core.Kernels;

/// <summary>Element-wise activation functions.</summary>
public static class Activations
{
    /// <summary>SiLU(x) = x * sigmoid(x).</summary>
    public static float Silu(float x) => x / (1.0f + MathF.Exp(-x));

    /// <summary>gate[i] = SiLU(gate[i]) * up[i] (SwiGLU).</summary>
    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++) gate[i] = Silu(gate[i]) * up[i];
    }
}
