using Loom.Core.Kernels.Quantized;
using Loom.Core.Tensors;
using Loom.Core.Threading;

namespace Loom.Core.Kernels;

/// <summary>
/// y = x · Wᵀ for a weight matrix of any supported type: every activation row is first converted to the weight
/// type's <see cref="Quants.VecDotType"/> (as ggml does), then the products are formed by the type's
/// <see cref="TileKernels">tile kernel</see> over tiles of weight rows × tokens, so each weight block is read once
/// per group of tokens. Threads split the rows; every output is computed the same way whatever the split.
/// Float weights are summed per pair in llama.cpp's order for GEMM or GEMV (see <see cref="Dot"/>).
/// </summary>
public static unsafe partial class MatMul
{
    /// <summary>Tokens whose activations stay cache-resident while a thread walks its rows.</summary>
    private const int TokenBlock = 64;

    private static readonly TileKernel?[] Kernels = new TileKernel?[64];

    /// <summary>Bytes of scratch <see cref="Compute(WeightTensor, ReadOnlySpan{float}, int, Span{float}, Span{byte}, bool[], ComputePool)"/> needs for <paramref name="tokens"/> rows against <paramref name="w"/>.</summary>
    public static long ScratchBytes(WeightTensor w, int tokens) =>
        PackedOffset(w, tokens) + (UsesF16Gemm(w, tokens) ? (tokens + F16Gemm.Tokens - 1) / F16Gemm.Tokens * F16Gemm.BlockBytes(w.Cols) : 0);

    /// <summary>Where <see cref="F16Gemm"/>'s packed activations start in the scratch: after the converted rows, aligned.</summary>
    private static long PackedOffset(WeightTensor w, int tokens) =>
        (tokens * Math.Max(TypeTraits.RowSize(Quants.VecDotType(w.Type), w.Cols), w.Cols % 32 == 0 ? PackedActivations.RowBytes(w.Cols) : 0) + 63) & ~63L;

    /// <summary>Multi-token f16 products run <see cref="F16Gemm"/> where it applies and there are tokens enough to fill its lanes.</summary>
    private static bool UsesF16Gemm(WeightTensor w, int tokens) => w.Type == GgmlType.F16 && tokens >= F16Gemm.Tokens / 2 && F16Gemm.Applies(w.Cols);

    /// <summary>
    /// <paramref name="x"/> is [tokens, w.Cols] row-major, <paramref name="y"/> is [tokens, w.Rows].
    /// <paramref name="scratch"/> holds the converted activations (<see cref="ScratchBytes"/>).
    /// <paramref name="gemv"/>, when given, marks the tokens to sum as a lone decode token is summed (see <see cref="Dot"/>).
    /// The rows are split over <paramref name="pool"/> (<see cref="ComputePool.Shared"/> when none is given).
    /// </summary>
    public static void Compute(WeightTensor w, ReadOnlySpan<float> x, int tokens, Span<float> y, Span<byte> scratch, bool[]? gemv = null, ComputePool? pool = null)
    {
        int k = w.Cols, n = w.Rows;
        if (x.Length < tokens * k || y.Length < tokens * n) throw new ArgumentException("matmul operand too small");
        pool ??= ComputePool.Shared;
        int xRow = ConvertActivations(w, x, tokens, scratch, pool);

        fixed (byte* xq = scratch)
        fixed (float* yp = y)
        {
            if (w.Packed is { } packed)
            {
                var job = new PackedJob(packed, xq, xRow, yp, tokens, n);
                pool.For(job.Pairs, (long)k * tokens * 2 * PackedMatrix.TileRows, job, static (j, start, end) => j.Run(start, end), ChunksPerThread(tokens));
            }
            else if (w.Type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16)
            {
                // Decode against finite f16 weights: activations prescaled once here, for every thread's rows.
                bool prescaled = w.Type == GgmlType.F16 && tokens < 4 && w.FiniteF16 && Dot.PrescaledF16 && k % 16 == 0
                    && Prescale((float*)xq, xRow / sizeof(float), tokens, k);
                float* packedX = null;
                if (UsesF16Gemm(w, tokens))
                {
                    if (scratch.Length < ScratchBytes(w, tokens)) throw new ArgumentException("matmul scratch too small");
                    packedX = (float*)(xq + PackedOffset(w, tokens));
                    int blocks = (tokens + F16Gemm.Tokens - 1) / F16Gemm.Tokens;
                    pool.For(blocks, (long)k * F16Gemm.Tokens, new PackJob(xq, xRow, packedX, tokens, k), static (j, start, end) => j.Run(start, end));
                }
                var job = new PairJob(w, xq, xRow, yp, tokens, n, k, gemv, prescaled, packedX);
                // F16Gemm's threads take whole six-row groups: a share cut mid-group leaves rows to the slower tiles.
                if (packedX != null)
                    pool.For((n + F16Gemm.Rows - 1) / F16Gemm.Rows, (long)k * tokens * F16Gemm.Rows, job,
                        static (j, start, end) => j.Run(start * F16Gemm.Rows, Math.Min(j.Rows, end * F16Gemm.Rows)));
                else pool.For(n, (long)k * tokens, job, static (j, start, end) => j.Run(start, end));
            }
            else
            {
                var job = new TileJob(KernelFor(w.Type), (byte*)w.Data, (nint)w.RowBytes, xq, xRow, yp, tokens, n, k);
                int tiles = (n + TileKernels.MaxRows - 1) / TileKernels.MaxRows;
                pool.For(tiles, (long)k * tokens * TileKernels.MaxRows, job, static (j, start, end) => j.Run(start, end));
            }
        }
    }

    /// <summary>
    /// y_i = x · W_iᵀ for two or three matrices that read the same input (Q, K and V; gate and up). When they are
    /// packed with the same activation format, the activations are converted once and one parallel operation covers
    /// all their rows, which saves conversions and, for a decode step, thread hand-offs; otherwise this is one
    /// <see cref="Compute(WeightTensor, ReadOnlySpan{float}, int, Span{float}, Span{byte}, bool[], ComputePool)"/> per matrix.
    /// Results are the same either way.
    /// </summary>
    public static void Compute(ReadOnlySpan<float> x, int tokens, Span<byte> scratch, bool[]? gemv,
        WeightTensor w0, Span<float> y0, WeightTensor w1, Span<float> y1, WeightTensor? w2 = null, Span<float> y2 = default, ComputePool? pool = null)
    {
        pool ??= ComputePool.Shared;
        if (!Shares(w0, w1) || (w2 is not null && !Shares(w0, w2)))
        {
            Compute(w0, x, tokens, y0, scratch, gemv, pool);
            Compute(w1, x, tokens, y1, scratch, gemv, pool);
            if (w2 is not null) Compute(w2, x, tokens, y2, scratch, gemv, pool);
            return;
        }
        int k = w0.Cols;
        if (x.Length < tokens * k || y0.Length < tokens * w0.Rows || y1.Length < tokens * w1.Rows || (w2 is not null && y2.Length < tokens * w2.Rows))
            throw new ArgumentException("matmul operand too small");
        int xRow = ConvertActivations(w0, x, tokens, scratch, pool);

        fixed (byte* xq = scratch)
        fixed (float* p0 = y0)
        fixed (float* p1 = y1)
        fixed (float* p2 = y2)
        {
            var job = new SharedJob(
                new PackedJob(w0.Packed!, xq, xRow, p0, tokens, w0.Rows),
                new PackedJob(w1.Packed!, xq, xRow, p1, tokens, w1.Rows),
                w2 is null ? default : new PackedJob(w2.Packed!, xq, xRow, p2, tokens, w2.Rows));
            pool.For(job.Pairs, (long)k * tokens * 2 * PackedMatrix.TileRows, job, static (j, start, end) => j.Run(start, end), ChunksPerThread(tokens));
        }
    }

    /// <summary>
    /// Converts the activation rows into <paramref name="scratch"/> in the format <paramref name="w"/>'s kernels take
    /// (its <see cref="Quants.VecDotType"/>, or <see cref="PackedActivations"/>), rows in parallel; returns the bytes per row.
    /// </summary>
    private static int ConvertActivations(WeightTensor w, ReadOnlySpan<float> x, int tokens, Span<byte> scratch, ComputePool pool)
    {
        int k = w.Cols;
        var dotType = Quants.VecDotType(w.Type);
        bool packedX = w.Packed is { UsesPackedActivations: true };
        int xRow = (int)(packedX ? PackedActivations.RowBytes(k) : TypeTraits.RowSize(dotType, k));
        if (scratch.Length < tokens * xRow) throw new ArgumentException("matmul scratch too small");
        fixed (float* xp = x)
        fixed (byte* xq = scratch)
            pool.For(tokens, k * 4L, new QuantizeJob(xp, k, xq, xRow, dotType, packedX), static (j, start, end) => j.Run(start, end));
        return xRow;
    }

    /// <summary>
    /// A few tokens stream the weights from memory: each thread takes long contiguous runs of rows, which keeps the
    /// prefetchers going. Many tokens make the work compute-bound: fine chunks balance the threads.
    /// </summary>
    private static int ChunksPerThread(int tokens) => tokens < 4 ? 2 : 16;

    /// <summary>Whether <paramref name="b"/> can share a dispatch with <paramref name="a"/>: both packed, same input format.</summary>
    private static bool Shares(WeightTensor a, WeightTensor b) =>
        a.Packed is { } pa && b.Packed is { } pb && a.Cols == b.Cols &&
        pa.UsesPackedActivations == pb.UsesPackedActivations && Quants.VecDotType(a.Type) == Quants.VecDotType(b.Type);

    /// <summary>Up to three packed matrices' tile pairs as one range: the first's, then the second's, then the third's.</summary>
    private readonly struct SharedJob(PackedJob j0, PackedJob j1, PackedJob j2)
    {
        public int Pairs => j0.Pairs + j1.Pairs + j2.Pairs;

        public void Run(int start, int end)
        {
            int n0 = j0.Pairs, n1 = j1.Pairs;
            if (start < n0) j0.Run(start, Math.Min(end, n0));
            if (start < n0 + n1 && end > n0) j1.Run(Math.Max(start, n0) - n0, Math.Min(end, n0 + n1) - n0);
            if (end > n0 + n1) j2.Run(Math.Max(start, n0 + n1) - n0 - n1, end - n0 - n1);
        }
    }

    private static TileKernel KernelFor(GgmlType type) => Kernels[(int)type] ??= TileKernels.For(type);

    /// <summary>Blocks [start, end) of <see cref="F16Gemm.Tokens"/> float activation rows into <see cref="F16Gemm"/>'s layout.</summary>
    private readonly struct PackJob(byte* xq, int xRow, float* packedX, int tokens, int k)
    {
        public void Run(int start, int end)
        {
            for (int b = start; b < end; b++)
                F16Gemm.Pack((float*)(xq + (long)b * F16Gemm.Tokens * xRow), xRow / sizeof(float), Math.Min(F16Gemm.Tokens, tokens - b * F16Gemm.Tokens), k,
                    packedX + b * F16Gemm.BlockBytes(k) / sizeof(float));
        }
    }

    /// <summary>Activation rows [start, end) to the weight's dot type, or to the packed kernels' format.</summary>
    private readonly struct QuantizeJob(float* x, int k, byte* xq, int xRow, GgmlType dotType, bool packed)
    {
        public void Run(int start, int end)
        {
            for (int t = start; t < end; t++)
            {
                var src = new ReadOnlySpan<float>(x + (long)t * k, k);
                var dst = new Span<byte>(xq + (long)t * xRow, xRow);
                if (packed) PackedActivations.Quantize(src, dst);
                else Quants.Quantize(dotType, src, dst);
            }
        }
    }

    /// <summary>Tiles [start, end) of <see cref="TileKernels.MaxRows"/> rows, for all tokens, block of tokens by block.</summary>
    private readonly struct TileJob(TileKernel kernel, byte* w, nint wRowBytes, byte* xq, int xRow, float* y, int tokens, int n, int k)
    {
        public void Run(int start, int end)
        {
            const int R = TileKernels.MaxRows, T = TileKernels.MaxTokens;
            for (int t0 = 0; t0 < tokens; t0 += TokenBlock)
            {
                int t1 = Math.Min(tokens, t0 + TokenBlock);
                for (int tile = start; tile < end; tile++)
                {
                    int r = tile * R, rows = Math.Min(R, n - r);
                    for (int t = t0; t < t1; t += T)
                        kernel(w + r * wRowBytes, wRowBytes, rows, xq + (long)t * xRow, xRow, Math.Min(T, t1 - t), k, y + (long)t * n + r, n);
                }
            }
        }
    }

    /// <summary>
    /// Packed tile pairs [start, end) (tiles 2·start .. 2·end, the last pair possibly a lone tile), for all tokens,
    /// block of tokens by block. Work is handed out in pairs so that a thread's share never splits one.
    /// </summary>
    private readonly struct PackedJob(PackedMatrix m, byte* xq, int xRow, float* y, int tokens, int n)
    {
        /// <summary>Tile pairs, 0 for the unused slots of a <see cref="SharedJob"/>.</summary>
        public int Pairs => m is null ? 0 : (n / PackedMatrix.TileRows + 1) / 2;

        public void Run(int startPair, int endPair)
        {
            var kernel = m.Kernel;
            int start = 2 * startPair, end = Math.Min(2 * endPair, n / PackedMatrix.TileRows);
            for (int t0 = 0; t0 < tokens; t0 += TokenBlock)
            {
                int t1 = Math.Min(tokens, t0 + TokenBlock);
                int tile = start;
                // Pairs of tiles where a pair kernel exists; a lone last tile on its own.
                if (m.PairKernel is { } pair)
                    for (; tile + 2 <= end; tile += 2)
                        pair(m.Tile(tile), m.Blocks, xq + (long)t0 * xRow, xRow, t1 - t0, y + (long)t0 * n + tile * PackedMatrix.TileRows, n);
                for (; tile < end; tile++)
                    kernel(m.Tile(tile), m.Blocks, xq + (long)t0 * xRow, xRow, t1 - t0, y + (long)t0 * n + tile * PackedMatrix.TileRows, n);
            }
        }
    }

    /// <summary>Rows of at most this many f16 weights are widened on the stack for the multi-token path.</summary>
    private const int WidenedRowLimit = 16384;

    /// <summary>
    /// Multiplies <paramref name="tokens"/> activation rows by 2^112 in place for <see cref="Dot.F16F32Prescaled"/>,
    /// unless a value reaches 65536 (its scaled copy could overflow): then leaves them as they are and returns false.
    /// </summary>
    private static bool Prescale(float* x, int stride, int tokens, int k)
    {
        var limit = System.Runtime.Intrinsics.Vector256.Create(65536f);
        for (int t = 0; t < tokens; t++)
            for (int i = 0; i < k; i += 8)
                if (System.Runtime.Intrinsics.Vector256.GreaterThanOrEqualAny(System.Runtime.Intrinsics.Vector256.Abs(System.Runtime.Intrinsics.Vector256.Load(x + (long)t * stride + i)), limit))
                    return false;
        var scale = System.Runtime.Intrinsics.Vector256.Create(Dot.F16Prescale);
        for (int t = 0; t < tokens; t++)
            for (int i = 0; i < k; i += 8)
            {
                float* p = x + (long)t * stride + i;
                System.Runtime.Intrinsics.Vector256.Store(System.Runtime.Intrinsics.Vector256.Load(p) * scale, p);
            }
        return true;
    }

    /// <summary>
    /// Float weights: one dot product per (row, token), in the GEMM or GEMV order the token asks for. For an f16 row
    /// against several tokens the row is widened to floats once and then meets four GEMM-order tokens per pass
    /// (<see cref="Dot.F32Gemm4"/>): the same numbers as <see cref="Dot.F16F32"/>, since widening is exact and the
    /// chain is the same, without widening the row again for every token.
    /// </summary>
    /// <param name="prescaled">The activations were prescaled (<see cref="Prescale"/>): every dot is
    /// <see cref="Dot.F16F32Prescaled"/>, the same numbers as <see cref="Dot.F16F32"/>.</param>
    /// <param name="packedX">The activations packed for <see cref="F16Gemm"/>, which then takes rows six at a time.</param>
    private readonly struct PairJob(WeightTensor w, byte* xq, int xRow, float* y, int tokens, int n, int k, bool[]? gemv, bool prescaled, float* packedX)
    {
        public int Rows => n;

        public void Run(int start, int end)
        {
            if (packedX != null) start = RunF16Gemm(start, end);
            var type = w.Type;
            int rowBytes = (int)w.RowBytes;
            bool widen = type == GgmlType.F16 && tokens >= 4 && k % 16 == 0 && k <= WidenedRowLimit;
            // Three rows at a time on 256-bit hardware (Dot.F32GemmTile3x4), one row against four tokens otherwise.
            int group = widen && !System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? 3 : 1;
            if (prescaled)
            {
                // Four rows at a time, every token against them while they are in cache.
                var four = stackalloc float[4];
                int r = start;
                for (; r + 4 <= end; r += 4)
                    for (int t = 0; t < tokens; t++)
                    {
                        Dot.F16F32Prescaled4((Half*)((byte*)w.Data + (long)r * rowBytes), rowBytes / 2, k, (float*)(xq + (long)t * xRow), four);
                        for (int i = 0; i < 4; i++) y[(long)t * n + r + i] = four[i];
                    }
                for (; r < end; r++)
                    for (int t = 0; t < tokens; t++)
                        y[(long)t * n + r] = Dot.F16F32Prescaled(new ReadOnlySpan<Half>((byte*)w.Data + (long)r * rowBytes, k), (float*)(xq + (long)t * xRow));
                return;
            }
            Span<float> wide = widen ? stackalloc float[group * k] : default;
            // Token blocks keep the activations a thread meets cache-resident while it walks its rows.
            for (int t0 = 0; t0 < tokens; t0 += TokenBlock)
            {
                int t1 = Math.Min(tokens, t0 + TokenBlock);
                int r = start;
                if (group == 3 && t1 - t0 >= 4)
                    for (; r + 3 <= end; r += 3)
                    {
                        for (int i = 0; i < 3; i++)
                            FloatFormats.F16ToF32(new ReadOnlySpan<Half>((byte*)w.Data + (long)(r + i) * rowBytes, k), wide.Slice(i * k, k));
                        int t = t0;
                        fixed (float* wf = wide)
                            for (; t + 4 <= t1; t += 4)
                                Dot.F32GemmTile3x4(wf, wf + k, wf + 2 * k, (float*)(xq + (long)t * xRow), xRow / sizeof(float), k, y + (long)t * n + r, n);
                        for (; t < t1; t++)
                            for (int i = 0; i < 3; i++)
                                y[(long)t * n + r + i] = Quants.VecDot(type, new ReadOnlySpan<byte>((byte*)w.Data + (long)(r + i) * rowBytes, rowBytes),
                                    new ReadOnlySpan<byte>(xq + (long)t * xRow, xRow), k, gemm: gemv is null || !gemv[t]);
                    }
                for (; r < end; r++)
                {
                    var wRow = new ReadOnlySpan<byte>((byte*)w.Data + (long)r * rowBytes, rowBytes);
                    int t = t0;
                    if (widen && t1 - t0 >= 4)
                    {
                        FloatFormats.F16ToF32(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(wRow)[..k], wide);
                        fixed (float* wf = wide)
                            for (; t + 4 <= t1; t += 4)
                                Dot.F32Gemm4(wf, (float*)(xq + (long)t * xRow), xRow / sizeof(float), k, y + (long)t * n + r, n);
                    }
                    for (; t < t1; t++)
                    {
                        var xr = new ReadOnlySpan<byte>(xq + (long)t * xRow, xRow);
                        y[(long)t * n + r] = Quants.VecDot(type, wRow, xr, k, gemm: gemv is null || !gemv[t]);
                    }
                }
            }
        }

        /// <summary>Rows [start, end) six at a time through <see cref="F16Gemm"/>; returns the first row left over.</summary>
        private int RunF16Gemm(int start, int end)
        {
            Span<float> wide = stackalloc float[F16Gemm.Rows * k];
            var acc = stackalloc float[F16Gemm.AccumulatorFloats];
            int blocks = (tokens + F16Gemm.Tokens - 1) / F16Gemm.Tokens, rowBytes = (int)w.RowBytes;
            int r = start;
            fixed (float* wf = wide)
                for (; r + F16Gemm.Rows <= end; r += F16Gemm.Rows)
                {
                    for (int i = 0; i < F16Gemm.Rows; i++)
                        FloatFormats.F16ToF32(new ReadOnlySpan<Half>((byte*)w.Data + (long)(r + i) * rowBytes, k), wide.Slice(i * k, k));
                    for (int b = 0; b < blocks; b++)
                        F16Gemm.Tile(wf, k, packedX + b * F16Gemm.BlockBytes(k) / sizeof(float), Math.Min(F16Gemm.Tokens, tokens - b * F16Gemm.Tokens),
                            y + (long)b * F16Gemm.Tokens * n + r, n, acc);
                }
            return r;
        }
    }
}
