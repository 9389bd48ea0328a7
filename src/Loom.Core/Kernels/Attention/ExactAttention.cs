using System.Runtime.CompilerServices;

namespace Loom.Core.Kernels.Attention;

/// <summary>
/// The exact f16 path over the paged cache: it rounds where llama.cpp's non-flash path rounds (f16 cache, Q and
/// probabilities as f16) and sums in its order (Loom.Models' ReferenceAttention, which it equals bit for bit).
/// Rows are widened a tile of <see cref="ExactKernels.Tile"/> positions at a time and shared by every query head
/// of the work item, and the vectors run across the head dimension.
/// </summary>
internal static unsafe class ExactAttention
{
    private const int Tile = ExactKernels.Tile;

    /// <summary>
    /// Query heads h0..h0+count of <paramref name="token"/> (all reading KV head kvh) over its positions 0..n,
    /// or the window's last positions of them in a sliding layer. A <paramref name="lone"/> token (its sequence's
    /// only one in the batch) sums as ggml's single-token path does. Positions before the window are skipped where
    /// llama.cpp adds them with probability zero: every sum keeps its lanes by absolute position, so skipping
    /// them adds exactly the zeros llama.cpp adds.
    /// </summary>
    public static void Heads(in AttentionCall call, AttentionWorkspace ws, int[] table, int token, int n, bool lone, int kvh, int h0, int count)
    {
        var kv = call.Kv;
        int hd = kv.HeadDim;

        AttentionWorkspace.Ensure(ref ws.Q, count * hd);
        // Sized for the longest sequence the cache can hold at once, so a growing sequence never reallocates
        // mid-generation; the claimed context alone could ask for gigabytes the KV budget will never fill.
        long longest = Math.Min(call.ContextLength, kv.Slots);
        AttentionWorkspace.Ensure(ref ws.Scores, (long)count * Math.Max(n, longest));
        AttentionWorkspace.Ensure(ref ws.Tile, Tile * hd);
        AttentionWorkspace.Ensure(ref ws.Acc, (long)count * (lone ? 64 : 16) * hd);
        AttentionWorkspace.Ensure(ref ws.Sum, count * hd);
        float* qf = AttentionWorkspace.Ptr(ws.Q), sc = AttentionWorkspace.Ptr(ws.Scores), tile = AttentionWorkspace.Ptr(ws.Tile), acc = AttentionWorkspace.Ptr(ws.Acc);
        double* sum = AttentionWorkspace.Ptr(ws.Sum);

        // The reference multiplies the f16 K cache by Q converted to f16. Q and the probabilities carry a factor 2^112
        // and the widened K and V rows 2^-112 (HalfVec.WidenUnbiased, a third of the work of widening exactly): every
        // product, and so every sum, is the reference's number.
        Buffer.MemoryCopy(call.QueryRow(token, h0), qf, count * hd * sizeof(float), count * hd * sizeof(float));
        HalfVec.RoundTripPrescaled(qf, count * hd);

        int lo = call.FirstVisible(n - 1);
        Scores(kv, table, kvh, lo, n, count, !lone, call.Scale, qf, tile, sc);
        for (int i = 0; i < count; i++)
        {
            call.Cap(sc + (long)i * n + lo, n - lo);
            Softmax.Apply(new Span<float>(sc + (long)i * n + lo, n - lo));
            // Probabilities meet the f16 V cache as f16, as in the reference.
            HalfVec.RoundTripPrescaled(sc + (long)i * n + lo, n - lo);
        }

        float* o = call.OutputRow(token, h0);
        if (lone) ValuesGemv(kv, table, kvh, lo, n, count, call.ContextLength, sc, tile, acc, sum, o);
        else ValuesGemm(kv, table, kvh, lo, n, count, sc, tile, acc, o);
    }

    /// <summary>
    /// Scaled q·k of each head (rows of <paramref name="q"/>) against positions lo..n, into rows of n scores.
    /// </summary>
    // Kept out of its caller so that the dot product inlines into a small method: inside the caller's larger
    // body the JIT ran out of inlining budget and called it per position where Vector512 is emulated.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Scores(in PagedKv kv, int[] table, int kvh, int lo, int n, int count, bool gemm, float scale, float* q, float* tile, float* scores)
    {
        int hd = kv.HeadDim;
        for (int j0 = lo; j0 < n; j0 += Tile)
        {
            int rows = Math.Min(Tile, n - j0);
            kv.Prefetch(table, kvh, j0 + Tile, Math.Min(Tile, n - j0 - Tile), keys: true);
            kv.Widen(table, kvh, j0, rows, keys: true, tile, unbiased: true);
            for (int i = 0; i < count; i++)
            {
                float* qi = q + i * hd, s = scores + (long)i * n + j0;
                for (int r = 0; r < rows; r++) s[r] = ExactKernels.Dot(qi, tile + r * hd, hd, gemm) * scale;
            }
        }
    }

    /// <summary>
    /// Σ_j p_j·V_j for a prompt token: one chain of 16 lanes (position j feeding lane j % 16) per head
    /// dimension, reduced in a fixed tree, the order llama.cpp's f16 GEMM uses.
    /// </summary>
    private static void ValuesGemm(in PagedKv kv, int[] table, int kvh, int lo, int n, int count, float* probs, float* tile, float* acc, float* o)
    {
        int hd = kv.HeadDim;
        AccumulateLanes(kv, table, kvh, lo, n, n, count, 16, probs, tile, acc);
        for (int i = 0; i < count; i++) ExactKernels.ReduceLanes16(acc + i * 16 * hd, hd, o + i * hd);
    }

    /// <summary>
    /// Σ_j p_j·V_j for a lone decode token, summed as ggml_vec_dot_f16 sums it over the cache length padded to
    /// 32: four 16-lane chains over whole 64-position steps, then the remaining positions in double.
    /// </summary>
    private static void ValuesGemv(in PagedKv kv, int[] table, int kvh, int lo, int n, int count, int contextLength, float* probs, float* tile, float* acc, double* sum, float* o)
    {
        int hd = kv.HeadDim;
        int padded = Math.Min(contextLength, Math.Max(32, (n + 31) & ~31));
        int np = Math.Min(padded & ~63, n);
        // np is a multiple of 64 or all of n, so the chained positions are whole tiles, the tail one more.
        AccumulateLanes(kv, table, kvh, lo, np, n, count, 64, probs, tile, acc);
        for (int i = 0; i < count; i++)
        {
            float* a = acc + i * 64 * hd;
            double* s = sum + i * hd;
            if (np == 0) { new Span<double>(s, hd).Clear(); continue; }
            ExactKernels.FoldLanes64(a, hd);
            ExactKernels.ReduceLanes16(a, hd, o + i * hd);
            for (int d = 0; d < hd; d++) s[d] = o[i * hd + d];
        }
        int tail = Math.Max(np, lo);
        if (tail < n)
        {
            kv.Widen(table, kvh, tail, n - tail, keys: false, tile, unbiased: true);
            for (int i = 0; i < count; i++)
            {
                float* p = probs + (long)i * n;
                for (int j = tail; j < n; j++) ExactKernels.AddProductDouble(p[j], tile + (j - tail) * hd, sum + i * hd, hd);
            }
        }
        for (int i = 0; i < count * hd; i++) o[i] = (float)sum[i];
    }

    /// <summary>
    /// Clears <paramref name="lanes"/> accumulator rows per head, then adds p_j·V_j for positions lo..end into
    /// row j % lanes: one FMA chain per lane and dimension, as ggml's f16 dot products chain them. Probabilities
    /// are rows of <paramref name="n"/>, one per head.
    /// </summary>
    private static void AccumulateLanes(in PagedKv kv, int[] table, int kvh, int lo, int end, int n, int count, int lanes, float* probs, float* tile, float* acc)
    {
        int hd = kv.HeadDim;
        new Span<float>(acc, count * lanes * hd).Clear();
        for (int j0 = lo; j0 < end; j0 += Tile)
        {
            int rows = Math.Min(Tile, end - j0);
            kv.Prefetch(table, kvh, j0 + Tile, Math.Min(Tile, end - j0 - Tile), keys: false);
            kv.Widen(table, kvh, j0, rows, keys: false, tile, unbiased: true);
            for (int i = 0; i < count; i++)
            {
                float* p = probs + (long)i * n + j0, a = acc + i * lanes * hd;
                for (int r = 0; r < rows; r++) ExactKernels.Fma(p[r], tile + r * hd, a + ((j0 + r) & (lanes - 1)) * hd, hd);
            }
        }
    }
}
