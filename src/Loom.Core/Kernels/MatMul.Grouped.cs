using Loom.Core.Kernels.Quantized;
using Loom.Core.Tensors;
using Loom.Core.Threading;

namespace Loom.Core.Kernels;

public static unsafe partial class MatMul
{
    /// <summary>
    /// A grouped product, as a mixture of experts needs it: activation rows [start[g], start[g+1]) meet matrix
    /// <paramref name="w"/>[g] (and <paramref name="w2"/>[g], for gate and up), writing the same rows of
    /// <paramref name="y"/> (and <paramref name="y2"/>); a group without rows reads nothing. When every matrix is packed
    /// with one activation format, the rows are converted once and all groups' tiles run in one parallel operation,
    /// so a decode step pays one hand-off to the threads instead of one per expert; otherwise each group is one
    /// <see cref="Compute(WeightTensor, ReadOnlySpan{float}, int, Span{float}, Span{byte}, bool[], ComputePool)"/>.
    /// Every output is the same number either way. <paramref name="pairEnd"/> is scratch of 2·groups entries;
    /// <paramref name="gemv"/> marks rows summed as lone decode tokens (for float weights).
    /// </summary>
    public static void ComputeGrouped(ReadOnlySpan<float> x, int[] start, int groups, WeightTensor[] w, Span<float> y,
        Span<byte> scratch, int[] pairEnd, bool[]? gemv, ComputePool pool, WeightTensor[]? w2 = null, Span<float> y2 = default)
    {
        int rows = start[groups], k = w[0].Cols, n = w[0].Rows, mats = w2 is null ? 1 : 2;
        if (x.Length < rows * k || y.Length < rows * n || (w2 is not null && y2.Length < rows * w2[0].Rows) || pairEnd.Length < mats * groups)
            throw new ArgumentException("grouped matmul operand too small");
        WeightTensor? first = null;
        bool packed = true;
        int used = 0;
        for (int g = 0; g < groups; g++)
        {
            if (start[g + 1] == start[g]) continue;
            used++;
            first ??= w[g];
            packed &= Shares(first, w[g]) && (w2 is null || Shares(first, w2[g]));
        }
        if (first is null) return;
        if (!packed)
        {
            for (int g = 0; g < groups; g++)
            {
                int r0 = start[g], m = start[g + 1] - r0;
                if (m == 0) continue;
                var xg = x.Slice(r0 * k, m * k);
                if (w2 is null) Compute(w[g], xg, m, y.Slice(r0 * n, m * n), scratch, gemv, pool);
                else Compute(xg, m, scratch, gemv, w[g], y.Slice(r0 * n, m * n), w2[g], y2.Slice(r0 * w2[g].Rows, m * w2[g].Rows), pool: pool);
            }
            return;
        }

        int xRow = ConvertActivations(first, x, rows, scratch, pool);
        int pairs = 0;
        for (int g = 0; g < groups; g++)
            for (int j = 0; j < mats; j++)
            {
                if (start[g + 1] > start[g]) pairs += ((j == 0 ? w[g] : w2![g]).Rows / PackedMatrix.TileRows + 1) / 2;
                pairEnd[g * mats + j] = pairs;
            }
        int perGroup = rows / used;
        fixed (byte* xq = scratch)
        fixed (float* yp = y)
        fixed (float* y2p = y2)
        {
            var job = new GroupedJob(w, w2, start, pairEnd, mats * groups, xq, xRow, yp, y2p);
            pool.For(pairs, (long)k * perGroup * 2 * PackedMatrix.TileRows, job, static (j, a, b) => j.Run(a, b), ChunksPerThread(perGroup));
        }
    }

    /// <summary>Tile pairs [a, b) of the grouped items (group g's first matrix, then its second), each item's own rows.</summary>
    private readonly struct GroupedJob(WeightTensor[] w, WeightTensor[]? w2, int[] start, int[] pairEnd, int items, byte* xq, int xRow, float* y, float* y2)
    {
        public void Run(int a, int b)
        {
            int mats = w2 is null ? 1 : 2;
            int i = 0;
            while (pairEnd[i] <= a) i++;
            for (; i < items && a < b; i++)
            {
                int begin = i == 0 ? 0 : pairEnd[i - 1], end = pairEnd[i];
                if (end == begin) continue;
                int g = i / mats;
                var m = i % mats == 0 ? w[g] : w2![g];
                float* yi = i % mats == 0 ? y : y2;
                int r0 = start[g], n = m.Rows;
                new PackedJob(m.Packed!, xq + (long)r0 * xRow, xRow, yi + (long)r0 * n, start[g + 1] - r0, n).Run(a - begin, Math.Min(b, end) - begin);
                a = Math.Min(b, end);
            }
        }
    }
}
