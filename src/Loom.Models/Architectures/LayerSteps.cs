using System.Numerics;
using Loom.Core.Kernels;
using Loom.Core.Threading;

namespace Loom.Models.Architectures;

/// <summary>
/// The decoder's per-token steps between matrix products (residual adds, RMSNorm, SwiGLU), split over tokens (the
/// gated activations over elements) on the compute pool when the work is large enough to pay for it. Each value is
/// computed exactly as alone, so the split never changes a result.
/// </summary>
internal static class LayerSteps
{
    /// <summary>For every token: x += delta (when given), then xb = RmsNorm(x)·weight.</summary>
    public static void AddNorm(ComputePool pool, float[] x, float[]? delta, float[] xb, float[] weight, int tokens, int dim, float eps) =>
        pool.For(tokens, dim * 2L, (x, delta, xb, weight, dim, eps), static (s, start, end) =>
        {
            var (x, delta, xb, weight, dim, eps) = s;
            for (int t = start; t < end; t++)
            {
                var row = x.AsSpan(t * dim, dim);
                if (delta is not null) Add(row, delta.AsSpan(t * dim, dim));
                RmsNorm.Apply(row, weight, xb.AsSpan(t * dim, dim), eps);
            }
        });

    /// <summary>x += delta over the first <paramref name="tokens"/> rows of <paramref name="dim"/> values.</summary>
    public static void Add(ComputePool pool, float[] x, float[] delta, int tokens, int dim) =>
        pool.For(tokens, dim, (x, delta, dim), static (s, start, end) =>
        {
            var (x, delta, dim) = s;
            Add(x.AsSpan(start * dim, (end - start) * dim), delta.AsSpan(start * dim, (end - start) * dim));
        });

    /// <summary>gate = SiLU(gate)·up over the first <paramref name="tokens"/> rows of <paramref name="ffn"/> values.</summary>
    public static void SwiGlu(ComputePool pool, float[] gate, float[] up, int tokens, int ffn) => Gated(pool, gate, up, tokens * ffn, gelu: false);

    /// <summary>gate = GELU(gate)·up over the first <paramref name="tokens"/> rows of <paramref name="ffn"/> values (Gemma).</summary>
    public static void GeGlu(ComputePool pool, float[] gate, float[] up, int tokens, int ffn) => Gated(pool, gate, up, tokens * ffn, gelu: true);

    // The gated activations are element-wise (one exp or tanh each), so they split by element, not by token: a decode
    // step's one token still spreads over every thread.
    private const int GluPiece = 512;

    private static void Gated(ComputePool pool, float[] gate, float[] up, int n, bool gelu) =>
        pool.For((n + GluPiece - 1) / GluPiece, GluPiece * 8L, (gate, up, n, gelu), static (s, start, end) =>
        {
            int from = start * GluPiece, count = Math.Min(s.n, end * GluPiece) - from;
            if (s.gelu) Activations.GeGlu(s.gate.AsSpan(from, count), s.up.AsSpan(from, count));
            else Activations.SwiGlu(s.gate.AsSpan(from, count), s.up.AsSpan(from, count));
        });

    /// <summary>For every token, in place: x = RmsNorm(x)·weight (Gemma's post-norms).</summary>
    public static void Norm(ComputePool pool, float[] x, float[] weight, int tokens, int dim, float eps) =>
        pool.For(tokens, dim * 2L, (x, weight, dim, eps), static (s, start, end) =>
        {
            var (x, weight, dim, eps) = s;
            for (int t = start; t < end; t++)
            {
                var row = x.AsSpan(t * dim, dim);
                RmsNorm.Apply(row, weight, row, eps);
            }
        });

    /// <summary>x += delta, element by element.</summary>
    public static void Add(Span<float> x, ReadOnlySpan<float> delta)
    {
        int i = 0;
        for (; i + Vector<float>.Count <= x.Length; i += Vector<float>.Count)
            (new Vector<float>(x[i..]) + new Vector<float>(delta[i..])).CopyTo(x[i..]);
        for (; i < x.Length; i++) x[i] += delta[i];
    }
}
