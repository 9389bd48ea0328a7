using Loom.Core.Kernels;
using Loom.Core.Kernels.Quantized;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Core.Tests.Kernels;

/// <summary>
/// Repacked Q4_K/Q6_K matrices through MatMul equal the packed order's scalar references bit for bit, and those
/// references agree with the formats' own dot products.
/// </summary>
public unsafe class PackedKQuantTests
{
    public static TheoryData<GgmlType, int, int, int> Shapes()
    {
        var data = new TheoryData<GgmlType, int, int, int>();
        foreach (var type in new[] { GgmlType.Q4_K, GgmlType.Q6_K })
        {
            foreach (int tokens in new[] { 1, 2, 3, 4, 6, 7, 70 })
                foreach (int rows in new[] { 8, 16, 24 })
                    data.Add(type, 256, rows, tokens);
            foreach (int tokens in new[] { 1, 2, 3, 4, 6, 7 }) data.Add(type, 2048, 24, tokens);
            data.Add(type, 5632, 16, 5);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PackedMatMulMatchesReference(GgmlType type, int cols, int rows, int tokens)
    {
        if (!PackedMatrix.CanPack(new WeightTensor("probe", type, [256, 8], 0, 0))) return;
        var rng = new Random(cols + rows + tokens);
        using var buffer = Weights(type, cols, rows, rng);
        var w = new WeightTensor("w", type, [cols, rows], buffer.Pointer, rows * TypeTraits.RowSize(type, cols));
        var x = Activations(tokens * cols, rng);

        using var packed = PackedMatrix.Pack(w);
        w.Packed = packed;
        var y = new float[tokens * rows];
        MatMul.Compute(w, x, tokens, y, new byte[MatMul.ScratchBytes(w, tokens)]);

        var xq = new byte[TypeTraits.RowSize(GgmlType.Q8_K, cols)];
        for (int t = 0; t < tokens; t++)
        {
            Quants.Quantize(GgmlType.Q8_K, x.AsSpan(t * cols, cols), xq);
            for (int r = 0; r < rows; r++)
                Assert.Equal(ReferenceDot(type, w.Row(r), xq, cols), y[t * rows + r]);
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, 256)]
    [InlineData(GgmlType.Q4_K, 4096)]
    [InlineData(GgmlType.Q6_K, 256)]
    [InlineData(GgmlType.Q6_K, 4096)]
    public void ReferenceAgreesWithTheFormatsDot(GgmlType type, int cols)
    {
        var rng = new Random(cols);
        const int rows = 8;
        using var buffer = Weights(type, cols, rows, rng);
        var w = new WeightTensor("w", type, [cols, rows], buffer.Pointer, rows * TypeTraits.RowSize(type, cols));
        var xq = new byte[TypeTraits.RowSize(GgmlType.Q8_K, cols)];
        Quants.Quantize(GgmlType.Q8_K, Activations(cols, rng), xq);
        for (int r = 0; r < rows; r++)
        {
            float expected = type == GgmlType.Q4_K ? Q4_K.Dot(w.Row(r), xq, cols) : Q6_K.Dot(w.Row(r), xq, cols);
            float actual = ReferenceDot(type, w.Row(r), xq, cols);
            Assert.True(Math.Abs(actual - expected) <= 1e-4 * Math.Max(1, Math.Abs(expected)), $"row {r}: {actual} vs {expected}");
        }
    }

    [Fact]
    public void KQuantRowsNotAMultipleOfTheTileAreNotPacked()
    {
        Assert.False(PackedMatrix.CanPack(new WeightTensor("w", GgmlType.Q4_K, [256, 12], 0, 0)));
        Assert.False(PackedMatrix.CanPack(new WeightTensor("w", GgmlType.Q6_K, [256, 20], 0, 0)));
    }

    private static float ReferenceDot(GgmlType type, ReadOnlySpan<byte> w, ReadOnlySpan<byte> xq, int cols) =>
        type == GgmlType.Q4_K ? Q4_KPacked.ReferenceDot(w, xq, cols) : Q6_KPacked.ReferenceDot(w, xq, cols);

    /// <summary>Rows quantized by the real quantizer, with row-dependent magnitudes and a few outliers.</summary>
    private static NativeBuffer Weights(GgmlType type, int cols, int rows, Random rng)
    {
        long rowBytes = TypeTraits.RowSize(type, cols);
        var buffer = new NativeBuffer(rows * rowBytes);
        var row = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < cols; i++) row[i] = (float)(rng.NextDouble() * 2 - 1) * (1 + r % 3);
            row[rng.Next(cols)] = 8 * (r % 2 == 0 ? 1 : -1);
            Quants.Quantize(type, row, new Span<byte>((byte*)buffer.Pointer + r * rowBytes, (int)rowBytes));
        }
        return buffer;
    }

    private static float[] Activations(int count, Random rng)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * (i % 97 == 0 ? 20 : 1);
        return x;
    }
}
