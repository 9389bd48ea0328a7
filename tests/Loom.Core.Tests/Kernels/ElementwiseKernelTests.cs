using Loom.Core.Kernels;

namespace Loom.Core.Tests.Kernels;

/// <summary>
/// The vector bodies of RoPE, RMSNorm and softmax against their scalar references: every output the same float, bit
/// for bit, at lengths around the vector widths and with the values that take other paths (zeros of both signs,
/// infinities, NaN, masked positions).
/// </summary>
public class ElementwiseKernelTests
{
    private static readonly int[] Lengths = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 128];

    private static float[] Values(Random rng, int n, float scale, bool specials)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (rng.NextSingle() * 2 - 1) * scale;
        if (specials && n > 3)
        {
            x[rng.Next(n)] = -0f;
            x[rng.Next(n)] = 0f;
            x[rng.Next(n)] = scale * 1e-30f;
        }
        return x;
    }

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]) || float.IsNaN(expected[i]) && float.IsNaN(actual[i]),
                $"{what}, element {i}: reference {expected[i]:R}, fast {actual[i]:R}");
    }

    [Fact]
    public void RopeEqualsReference()
    {
        var rng = new Random(1);
        foreach (int pairs in Lengths)
            for (int trial = 0; trial < 20; trial++)
            {
                var cos = Values(rng, pairs, 1f, false);
                var sin = Values(rng, pairs, 1f, false);
                var head = Values(rng, 2 * pairs + 3, 40f, trial % 2 == 0);
                var (a, b) = ((float[])head.Clone(), (float[])head.Clone());
                Rope.ApplyInterleaved(a.AsSpan(0, 2 * pairs), cos, sin);
                Rope.ApplyInterleavedReference(b.AsSpan(0, 2 * pairs), cos, sin);
                AssertBits(b, a, $"interleaved, {pairs} pairs");
                (a, b) = ((float[])head.Clone(), (float[])head.Clone());
                Rope.ApplyNeoX(a.AsSpan(0, 2 * pairs), cos, sin);
                Rope.ApplyNeoXReference(b.AsSpan(0, 2 * pairs), cos, sin);
                AssertBits(b, a, $"neox, {pairs} pairs");
            }
    }

    [Fact]
    public void RmsNormEqualsReference()
    {
        var rng = new Random(2);
        foreach (int n in Lengths.Concat([2048, 5632, 2047]))
            for (int trial = 0; trial < 10; trial++)
            {
                var x = Values(rng, n, trial % 3 == 0 ? 1000f : 3f, trial % 2 == 0);
                var w = Values(rng, n, 2f, false);
                var (a, b) = (new float[n], new float[n]);
                RmsNorm.Apply(x, w, a, 1e-6f);
                RmsNorm.ApplyReference(x, w, b, 1e-6f);
                AssertBits(b, a, $"rmsnorm, n = {n}");
                // In place, as the Q/K norms and Gemma's post-norms call it.
                var c = (float[])x.Clone();
                RmsNorm.Apply(c, w, c, 1e-6f);
                AssertBits(b, c, $"rmsnorm in place, n = {n}");
            }
    }

    [Fact]
    public void SoftmaxEqualsReference()
    {
        var rng = new Random(3);
        foreach (int n in Lengths.Concat([300, 1000]))
            for (int trial = 0; trial < 12; trial++)
            {
                var x = Values(rng, n, 20f, trial % 2 == 0);
                // Masked (−∞) positions, and in some trials a NaN the scalar maximum passes over.
                for (int i = 0; i < n; i++) if (rng.Next(5) == 0) x[i] = float.NegativeInfinity;
                if (trial % 4 == 1) x[rng.Next(n)] = float.NaN;
                if (trial % 6 == 2) x.AsSpan().Fill(float.NegativeInfinity);
                var (a, b) = ((float[])x.Clone(), (float[])x.Clone());
                Softmax.Apply(a);
                Softmax.ApplyReference(b);
                AssertBits(b, a, $"softmax, n = {n}, trial {trial}");
            }
    }
}
