using Loom.Core.Kernels;
using Loom.Core.Kernels.Quantized;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Core.Tests.Kernels;

/// <summary>Repacked Q4_0/Q8_0 matrices through MatMul equal the x86-order scalar references bit for bit.</summary>
public unsafe class PackedMatrixTests
{
    [Theory]
    [InlineData(GgmlType.Q4_0, 32, 4, 1)]
    [InlineData(GgmlType.Q4_0, 2048, 64, 1)]
    [InlineData(GgmlType.Q4_0, 2048, 64, 7)]
    [InlineData(GgmlType.Q4_0, 96, 12, 70)]
    [InlineData(GgmlType.Q8_0, 32, 4, 1)]
    [InlineData(GgmlType.Q8_0, 2048, 64, 1)]
    [InlineData(GgmlType.Q8_0, 2048, 64, 7)]
    [InlineData(GgmlType.Q8_0, 96, 12, 70)]
    public void PackedMatMulMatchesReference(GgmlType type, int cols, int rows, int tokens)
    {
        if (!PackedMatrix.CanPack(new WeightTensor("probe", type, [32, 4], 0, 0))) return;
        var rng = new Random(cols + rows + tokens);
        long rowBytes = TypeTraits.RowSize(type, cols);
        using var buffer = new NativeBuffer(rows * rowBytes);
        var row = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < cols; i++) row[i] = (float)(rng.NextDouble() * 2 - 1) * (1 + r % 3);
            Quants.Quantize(type, row, new Span<byte>((byte*)buffer.Pointer + r * rowBytes, (int)rowBytes));
        }
        var w = new WeightTensor("w", type, [cols, rows], buffer.Pointer, rows * rowBytes);
        var x = new float[tokens * cols];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);

        using var packed = PackedMatrix.Pack(w);
        w.Packed = packed;
        var y = new float[tokens * rows];
        MatMul.Compute(w, x, tokens, y, new byte[MatMul.ScratchBytes(w, tokens)]);

        var xq = new byte[TypeTraits.RowSize(GgmlType.Q8_0, cols)];
        for (int t = 0; t < tokens; t++)
        {
            Quants.Quantize(GgmlType.Q8_0, x.AsSpan(t * cols, cols), xq);
            for (int r = 0; r < rows; r++)
            {
                var wr = w.Row(r);
                float expected = type == GgmlType.Q4_0 ? Q4_0.DotX86(wr, xq, cols) : Q8_0.DotX86(wr, xq, cols);
                Assert.Equal(expected, y[t * rows + r]);
            }
        }
    }
}
