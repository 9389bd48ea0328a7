using Loom.Core.Quantization;
using Loom.Core.Tensors;
using Loom.Core.Threading;

namespace Loom.Core.Kernels;

/// <summary>
/// y = x · Wᵀ for a weight matrix of any supported type: every activation row is first converted to the weight
/// type's <see cref="Quants.VecDotType"/> (as ggml does), then each output is one <see cref="Quants.VecDot"/>.
/// </summary>
public static unsafe class MatMul
{
    /// <summary>Bytes of scratch <see cref="Compute"/> needs for <paramref name="tokens"/> rows against <paramref name="w"/>.</summary>
    public static long ScratchBytes(WeightTensor w, int tokens) => tokens * TypeTraits.RowSize(Quants.VecDotType(w.Type), w.Cols);

    /// <summary>
    /// <paramref name="x"/> is [tokens, w.Cols] row-major, <paramref name="y"/> is [tokens, w.Rows].
    /// <paramref name="scratch"/> holds the converted activations (<see cref="ScratchBytes"/>).
    /// <paramref name="gemv"/>, when given, marks the tokens to sum as a lone decode token is summed (see <see cref="Dot"/>).
    /// </summary>
    public static void Compute(WeightTensor w, ReadOnlySpan<float> x, int tokens, Span<float> y, Span<byte> scratch, bool[]? gemv = null)
    {
        int k = w.Cols, n = w.Rows;
        if (x.Length < tokens * k || y.Length < tokens * n) throw new ArgumentException("matmul operand too small");
        var dotType = Quants.VecDotType(w.Type);
        int xRow = (int)TypeTraits.RowSize(dotType, k);
        if (scratch.Length < tokens * xRow) throw new ArgumentException("matmul scratch too small");
        for (int t = 0; t < tokens; t++)
            Quants.Quantize(dotType, x.Slice(t * k, k), scratch.Slice(t * xRow, xRow));

        fixed (byte* xq = scratch)
        fixed (float* yp = y)
        {
            var job = new Job(w, (nint)xq, xRow, (nint)yp, tokens, n, k, gemv);
            RowParallel.For(n, (long)k * tokens, job, static (j, start, end) => j.Run(start, end));
        }
    }

    private sealed class Job(WeightTensor w, nint xq, int xRow, nint y, int tokens, int n, int k, bool[]? gemv)
    {
        public void Run(int start, int end)
        {
            var type = w.Type;
            int rowBytes = (int)w.RowBytes;
            for (int r = start; r < end; r++)
            {
                var wRow = new ReadOnlySpan<byte>((byte*)w.Data + (long)r * rowBytes, rowBytes);
                for (int t = 0; t < tokens; t++)
                {
                    var xr = new ReadOnlySpan<byte>((byte*)xq + (long)t * xRow, xRow);
                    ((float*)y)[(long)t * n + r] = Quants.VecDot(type, wRow, xr, k, gemm: gemv is null || !gemv[t]);
                }
            }
        }
    }
}
