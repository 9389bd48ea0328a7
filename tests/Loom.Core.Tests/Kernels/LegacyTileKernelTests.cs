using Loom.Core.Kernels.Quantized;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Core.Tests.Kernels;

/// <summary>The Q4_0 and Q8_0 tile kernels against the scalar x86-order references, bit for bit.</summary>
public unsafe class LegacyTileKernelTests
{
    public static TheoryData<int, int, int> Shapes()
    {
        var d = new TheoryData<int, int, int>();
        foreach (int n in new[] { 32, 64, 96, 2048, 5632 })
            foreach (var (rows, tokens) in new[] { (4, 4), (4, 1), (4, 3), (1, 1), (3, 2), (2, 4), (4, 9) })
                d.Add(n, rows, tokens);
        return d;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Q4_0MatchesX86Reference(int n, int rows, int tokens) =>
        Check(GgmlType.Q4_0, n, rows, tokens, Q4_0Tile.Mul, (a, b, k) => Q4_0.DotX86(a, b, k), seed: n * 31 + rows * 7 + tokens);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Q8_0MatchesX86Reference(int n, int rows, int tokens) =>
        Check(GgmlType.Q8_0, n, rows, tokens, Q8_0Tile.Mul, (a, b, k) => Q8_0.DotX86(a, b, k), seed: n * 17 + rows * 5 + tokens);

    [Fact]
    public void ZeroAndExtremeBlocks()
    {
        // All-zero blocks (d = 0), a block at f16's largest scales, and subnormal scales.
        const int n = 128;
        var w = new float[4 * n];
        var x = new float[4 * n];
        var rng = new Random(3);
        for (int i = 0; i < w.Length; i++)
        {
            int block = (i % n) / 32;
            w[i] = block switch { 0 => 0f, 1 => (float)(rng.NextDouble() * 2 - 1) * 60000f, 2 => (float)(rng.NextDouble() * 2 - 1) * 1e-6f, _ => (float)rng.NextDouble() - 0.5f };
            x[i] = block == 3 ? 0f : (float)(rng.NextDouble() * 2 - 1);
        }
        foreach (var (type, kernel, reference) in new (GgmlType, TileKernel, Func<byte[], byte[], int, float>)[]
                 { (GgmlType.Q4_0, Q4_0Tile.Mul, (a, b, k) => Q4_0.DotX86(a, b, k)), (GgmlType.Q8_0, Q8_0Tile.Mul, (a, b, k) => Q8_0.DotX86(a, b, k)) })
            CheckValues(type, n, 4, 4, w, x, kernel, reference);
    }

    private static void Check(GgmlType type, int n, int rows, int tokens, TileKernel kernel, Func<byte[], byte[], int, float> reference, int seed)
    {
        if (!Q4_0Tile.IsSupported) return;
        var rng = new Random(seed);
        var w = new float[rows * n];
        var x = new float[tokens * n];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1) * (1 + (i / 32) % 5);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * (1 + (i / 32) % 3);
        CheckValues(type, n, rows, tokens, w, x, kernel, reference);
    }

    private static void CheckValues(GgmlType type, int n, int rows, int tokens, float[] w, float[] x, TileKernel kernel, Func<byte[], byte[], int, float> reference)
    {
        if (!Q4_0Tile.IsSupported) return;
        int wRow = (int)TypeTraits.RowSize(type, n), xRow = (int)TypeTraits.RowSize(GgmlType.Q8_0, n);
        var wq = new byte[rows * wRow];
        var xq = new byte[tokens * xRow];
        for (int r = 0; r < rows; r++) Quants.Quantize(type, w.AsSpan(r * n, n), wq.AsSpan(r * wRow, wRow));
        for (int t = 0; t < tokens; t++) Quants.Quantize(GgmlType.Q8_0, x.AsSpan(t * n, n), xq.AsSpan(t * xRow, xRow));
        int yStride = rows + 3;
        var y = new float[tokens * yStride];
        fixed (byte* wp = wq, xp = xq)
        fixed (float* yp = y)
        {
            // The kernel contract caps a call at MaxTokens; larger token counts go in slices, as MatMul does.
            for (int t = 0; t < tokens; t += TileKernels.MaxTokens)
                kernel(wp, wRow, rows, xp + t * xRow, xRow, Math.Min(TileKernels.MaxTokens, tokens - t), n, yp + t * yStride, yStride);
        }
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
            {
                float expected = reference(wq.AsSpan(r * wRow, wRow).ToArray(), xq.AsSpan(t * xRow, xRow).ToArray(), n);
                Assert.Equal(expected, y[t * yStride + r]);
            }
    }
}
