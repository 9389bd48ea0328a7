using Loom.Core.Kernels;
using Loom.Core.Kernels.Quantized;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Core.Tests.Kernels;

/// <summary>Repacked Q4_0/Q8_0 matrices through MatMul equal the packed order's scalar references bit for bit.</summary>
public unsafe class PackedMatrixTests
{
    [Theory]
    [InlineData(GgmlType.Q4_0, 32, 8, 1)]
    [InlineData(GgmlType.Q4_0, 2048, 64, 1)]
    [InlineData(GgmlType.Q4_0, 2048, 64, 2)]
    [InlineData(GgmlType.Q4_0, 2048, 64, 3)]
    [InlineData(GgmlType.Q4_0, 2048, 64, 6)]
    [InlineData(GgmlType.Q4_0, 2048, 64, 7)]
    [InlineData(GgmlType.Q4_0, 96, 24, 70)]
    [InlineData(GgmlType.Q4_0, 5632, 16, 5)]
    [InlineData(GgmlType.Q8_0, 32, 8, 1)]
    [InlineData(GgmlType.Q8_0, 2048, 64, 1)]
    [InlineData(GgmlType.Q8_0, 2048, 64, 2)]
    [InlineData(GgmlType.Q8_0, 2048, 64, 3)]
    [InlineData(GgmlType.Q8_0, 2048, 64, 6)]
    [InlineData(GgmlType.Q8_0, 2048, 64, 7)]
    [InlineData(GgmlType.Q8_0, 96, 24, 70)]
    [InlineData(GgmlType.Q8_0, 5632, 16, 5)]
    public void PackedMatMulMatchesReference(GgmlType type, int cols, int rows, int tokens)
    {
        if (!PackedMatrix.CanPack(new WeightTensor("probe", type, [32, 8], 0, 0))) return;
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
                float expected = type == GgmlType.Q4_0 ? Q4_0Packed.ReferenceDot(wr, xq, cols) : Q8_0Packed.ReferenceDot(wr, xq, cols);
                Assert.Equal(expected, y[t * rows + r]);
            }
        }
    }

    [Fact]
    public void RowsNotAMultipleOfTheTileAreNotPacked() =>
        Assert.False(PackedMatrix.CanPack(new WeightTensor("w", GgmlType.Q4_0, [64, 12], 0, 0)));

    [Theory]
    [InlineData(32, 1)]
    [InlineData(2048, 2)]
    [InlineData(96, 3)]
    public void PackedActivationsEqualTheScalarQuantizer(int k, int seed)
    {
        var rng = new Random(seed);
        var x = new float[k];
        for (int i = 0; i < k; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-3, 3)));
        if (k > 64) { x.AsSpan(32, 32).Clear(); x[70] = 127.5f; x[71] = -0.5f; }
        var fast = new byte[PackedActivations.RowBytes(k)];
        var reference = new byte[fast.Length];
        PackedActivations.Quantize(x, fast);
        PackedActivations.QuantizeReference(x, reference);
        Assert.Equal(reference, fast);

        // Same quants and scale as the Q8_0 activation quantizer, plus the quants' sum.
        var q8 = new byte[TypeTraits.RowSize(GgmlType.Q8_0, k)];
        Q8_0.Quantize(x, q8);
        for (int b = 0; b < k / 32; b++)
        {
            int sum = 0;
            for (int j = 0; j < 32; j++)
            {
                Assert.Equal(q8[b * 34 + 2 + j], fast[b * 40 + j]);
                sum += (sbyte)q8[b * 34 + 2 + j];
            }
            Assert.Equal((float)BitConverter.ToHalf(q8, b * 34), BitConverter.ToSingle(fast, b * 40 + 32));
            Assert.Equal(sum, BitConverter.ToInt32(fast, b * 40 + 36));
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_0, 1)]
    [InlineData(GgmlType.Q4_0, 9)]
    [InlineData(GgmlType.Q8_0, 70)]
    public void SharedDispatchEqualsOneMatMulPerMatrix(GgmlType type, int tokens)
    {
        const int cols = 256;
        // Tiers without packed kernels (no AVX2) have nothing to share; KernelTierTests pins which tiers have them.
        if (!PackedMatrix.CanPack(new WeightTensor("probe", type, [32, 8], 0, 0))) return;
        var rng = new Random(tokens);
        int[] rows = [64, 24, 8];
        var buffers = new List<NativeBuffer>();
        var ws = new WeightTensor[3];
        for (int m = 0; m < 3; m++)
        {
            long rowBytes = TypeTraits.RowSize(type, cols);
            var buffer = new NativeBuffer(rows[m] * rowBytes);
            buffers.Add(buffer);
            var row = new float[cols];
            for (int r = 0; r < rows[m]; r++)
            {
                for (int i = 0; i < cols; i++) row[i] = (float)(rng.NextDouble() * 2 - 1);
                Quants.Quantize(type, row, new Span<byte>((byte*)buffer.Pointer + r * rowBytes, (int)rowBytes));
            }
            ws[m] = new WeightTensor($"w{m}", type, [cols, rows[m]], buffer.Pointer, rows[m] * rowBytes);
            ws[m].Packed = PackedMatrix.Pack(ws[m]);
        }
        var x = new float[tokens * cols];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var scratch = new byte[MatMul.ScratchBytes(ws[0], tokens)];

        var separate = rows.Select(r => new float[tokens * r]).ToArray();
        for (int m = 0; m < 3; m++) MatMul.Compute(ws[m], x, tokens, separate[m], scratch);
        var shared = rows.Select(r => new float[tokens * r]).ToArray();
        MatMul.Compute(x, tokens, scratch, null, ws[0], shared[0], ws[1], shared[1], ws[2], shared[2]);
        for (int m = 0; m < 3; m++) Assert.Equal(separate[m], shared[m]);

        // A matrix that is not packed cannot share the dispatch; the call falls back and still agrees.
        var unpacked = new WeightTensor("u", type, [cols, rows[1]], ws[1].Data, ws[1].ByteSize);
        var fallback = rows.Take(2).Select(r => new float[tokens * r]).ToArray();
        MatMul.Compute(x, tokens, scratch, null, ws[0], fallback[0], unpacked, fallback[1]);
        Assert.Equal(separate[0], fallback[0]);
        var expected = new float[tokens * rows[1]];
        MatMul.Compute(unpacked, x, tokens, expected, scratch);
        Assert.Equal(expected, fallback[1]);

        foreach (var w in ws) w.Packed!.Dispose();
        foreach (var b in buffers) b.Dispose();
    }
}
