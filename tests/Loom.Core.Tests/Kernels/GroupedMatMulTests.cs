using Loom.Core.Kernels;
using Loom.Core.Kernels.Quantized;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Core.Tests.Kernels;

/// <summary>The grouped product (one dispatch over several experts' matrices) equals one product per group, bit for bit.</summary>
public unsafe class GroupedMatMulTests
{
    [Theory]
    [InlineData(GgmlType.Q4_0, false)]
    [InlineData(GgmlType.Q8_0, true)]
    [InlineData(GgmlType.Q4_K, true)]
    [InlineData(GgmlType.F32, true)] // does not pack: one product per group
    [InlineData(GgmlType.Q5_0, false)]
    public void EqualsOneProductPerGroup(GgmlType type, bool pair)
    {
        int cols = TypeTraits.BlockSize(type) == 256 ? 256 : 96, rows = 40, groups = 5;
        int[] counts = [3, 0, 1, 7, 0]; // empty groups read nothing
        var start = new int[groups + 1];
        for (int g = 0; g < groups; g++) start[g + 1] = start[g] + counts[g];
        int tokens = start[groups];
        var rng = new Random(cols + (int)type);
        var buffers = new List<NativeBuffer>();
        var packs = new List<PackedMatrix>();
        WeightTensor[] Matrices(string name) => Enumerable.Range(0, groups).Select(g =>
        {
            var f = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            long bytes = rows * TypeTraits.RowSize(type, cols);
            var buf = new NativeBuffer(bytes);
            buffers.Add(buf);
            Quants.Quantize(type, f, new Span<byte>((byte*)buf.Pointer, (int)bytes));
            var w = new WeightTensor($"{name}{g}", type, [cols, rows], buf.Pointer, bytes);
            if (PackedMatrix.CanPack(w)) packs.Add(w.Packed = PackedMatrix.Pack(w));
            return w;
        }).ToArray();
        try
        {
            var w1 = Matrices("a");
            var w2 = pair ? Matrices("b") : null;
            var x = Enumerable.Range(0, tokens * cols).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            var scratch = new byte[MatMul.ScratchBytes(w1[0], tokens)];
            var gemv = Enumerable.Repeat(true, tokens).ToArray();
            var y1 = new float[tokens * rows];
            var y2 = new float[tokens * rows];
            MatMul.ComputeGrouped(x, start, groups, w1, y1, scratch, new int[2 * groups], gemv, Loom.Core.Threading.ComputePool.Shared, w2, y2);

            for (int g = 0; g < groups; g++)
            {
                if (counts[g] == 0) continue;
                var xg = x.AsSpan(start[g] * cols, counts[g] * cols);
                var e1 = new float[counts[g] * rows];
                MatMul.Compute(w1[g], xg, counts[g], e1, scratch, gemv);
                Assert.Equal(e1, y1.AsSpan(start[g] * rows, counts[g] * rows).ToArray());
                if (w2 is null) continue;
                var e2 = new float[counts[g] * rows];
                MatMul.Compute(w2[g], xg, counts[g], e2, scratch, gemv);
                Assert.Equal(e2, y2.AsSpan(start[g] * rows, counts[g] * rows).ToArray());
            }
        }
        finally
        {
            foreach (var p in packs) p.Dispose();
            foreach (var b in buffers) b.Dispose();
        }
    }
}
