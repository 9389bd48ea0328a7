using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Loom.Core.Kernels;
using Loom.Core.Threading;
using Loom.Models.Architectures.Attention;

namespace Loom.Models.Architectures;

/// <summary>
/// Attention over the paged KV cache: stores a batch's K/V through each sequence's block table, then computes
/// causal softmax attention for every batch token over its own sequence's positions.
/// <para>
/// The f16 cache's default path is exact: it rounds where llama.cpp's non-flash path rounds (f16 cache, Q and
/// probabilities as f16) and sums in its order (see <see cref="ReferenceAttention"/>, which it equals bit for
/// bit), so logits match the reference. Rows are widened a tile of <see cref="Tile"/> positions at a time and
/// shared by every query head of a KV head group, and the vectors run across the head dimension.
/// </para>
/// One instance serves one model and is not reentrant: a forward pass calls it layer after layer.
/// </summary>
internal sealed unsafe class PagedAttention
{
    /// <summary>Positions widened at once; also ggml's single-token chain width (64 lanes).</summary>
    public const int Tile = 64;

    private readonly float _attnScale;
    // The call in flight, read by the workers.
    private ForwardBatch _batch = null!;
    private KvCache _cache = null!;
    private int _layer, _parts;
    private float* _q, _out;

    public PagedAttention(ModelConfig config)
    {
        Config = config;
        _attnScale = 1.0f / MathF.Sqrt(config.HeadDim);
    }

    public ModelConfig Config { get; }
    public int KvDim => Config.NumKvHeads * Config.HeadDim;
    private int Group => Config.NumHeads / Config.NumKvHeads;

    /// <summary>Writes every batch token's K and V rows into its slot of the cache.</summary>
    public void Store(ForwardBatch batch, KvCache cache, int layer, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        int kvDim = KvDim;
        fixed (float* kp = k, vp = v)
            for (int t = 0; t < batch.TokenCount; t++)
            {
                int[] table = batch.BlockTable(batch.TokenSeq[t]);
                int pos = batch.Positions[t];
                int slot = table[pos / cache.BlockSize] * cache.BlockSize + pos % cache.BlockSize;
                HalfVec.Narrow(kp + t * kvDim, cache.K(layer, slot), kvDim);
                HalfVec.Narrow(vp + t * kvDim, cache.V(layer, slot), kvDim);
            }
    }

    /// <summary>Causal attention of every batch token over its own sequence's cached positions 0..pos.</summary>
    public void Compute(ForwardBatch batch, KvCache cache, int layer, ReadOnlySpan<float> q, Span<float> output)
    {
        var c = Config;
        int units = batch.TokenCount * c.NumKvHeads;
        // Work items are (token, KV head, share of its query heads): whole groups share the widened rows best,
        // but a single decode token must still give every thread something to do.
        _parts = Math.Clamp((RowParallel.Threads + units - 1) / units, 1, Group);
        while (Group % _parts != 0) _parts++;
        int items = units * _parts;
        long work = (long)(batch.TokenCount == 0 ? 0 : batch.Positions[batch.TokenCount - 1] + 1) * c.HeadDim * (Group / _parts) * 4;
        fixed (float* qp = q, op = output)
        {
            _batch = batch; _cache = cache; _layer = layer; _q = qp; _out = op;
            RowParallel.For(items, work, this, static (m, start, end) => m.Run(start, end));
            _batch = null!; _cache = null!; _q = _out = null;
        }
    }

    private void Run(int start, int end)
    {
        var ws = AttentionWorkspace.Current;
        int kvHeads = Config.NumKvHeads, share = Group / _parts;
        for (int item = start; item < end; item++)
        {
            int part = item % _parts, unit = item / _parts;
            int t = unit / kvHeads, kvh = unit % kvHeads;
            int h0 = kvh * Group + part * share;
            ExactGroup(ws, t, kvh, h0, share);
        }
    }

    /// <summary>Query heads h0..h0+count of token t (all reading KV head kvh), in the reference's exact order.</summary>
    private void ExactGroup(AttentionWorkspace ws, int t, int kvh, int h0, int count)
    {
        var c = Config;
        int hd = c.HeadDim, heads = c.NumHeads;
        var batch = _batch;
        var cache = _cache;
        int n = batch.Positions[t] + 1;
        int seq = batch.TokenSeq[t];
        int[] table = batch.BlockTable(seq);
        bool lone = batch.SeqTokenCount(seq) == 1;

        AttentionWorkspace.Ensure(ref ws.Q, count * hd);
        AttentionWorkspace.Ensure(ref ws.Scores, (long)count * n);
        AttentionWorkspace.Ensure(ref ws.Tile, Tile * hd);
        AttentionWorkspace.Ensure(ref ws.Acc, (long)count * (lone ? 64 : 16) * hd);
        AttentionWorkspace.Ensure(ref ws.Sum, count * hd);
        float* qf = Ptr(ws.Q), sc = Ptr(ws.Scores), tile = Ptr(ws.Tile), acc = Ptr(ws.Acc);
        double* sum = Ptr(ws.Sum);

        // The reference multiplies the f16 K cache by Q converted to f16.
        Buffer.MemoryCopy(_q + (t * heads + h0) * hd, qf, count * hd * sizeof(float), count * hd * sizeof(float));
        HalfVec.RoundTrip(qf, count * hd);

        for (int j0 = 0; j0 < n; j0 += Tile)
        {
            int rows = Math.Min(Tile, n - j0);
            WidenRows(cache, layer: _layer, table, kvh, j0, rows, keys: true, tile);
            for (int i = 0; i < count; i++)
            {
                float* q = qf + i * hd, s = sc + (long)i * n + j0;
                for (int r = 0; r < rows; r++) s[r] = ExactKernels.Dot(q, tile + r * hd, hd, !lone) * _attnScale;
            }
        }
        for (int i = 0; i < count; i++)
        {
            Softmax.Apply(new Span<float>(sc + (long)i * n, n));
            // Probabilities meet the f16 V cache as f16, as in the reference.
            HalfVec.RoundTrip(sc + (long)i * n, n);
        }

        float* o = _out + (t * heads + h0) * hd;
        if (lone) ValuesGemv(cache, table, kvh, n, count, sc, tile, acc, sum, o);
        else ValuesGemm(cache, table, kvh, n, count, sc, tile, acc, o);
    }

    /// <summary>
    /// Σ_j p_j·V_j for a prompt token: one chain of 16 lanes (position j feeding lane j % 16) per head
    /// dimension, reduced in a fixed tree, the order llama.cpp's f16 GEMM uses.
    /// </summary>
    private void ValuesGemm(KvCache cache, int[] table, int kvh, int n, int count, float* probs, float* tile, float* acc, float* o)
    {
        int hd = Config.HeadDim;
        new Span<float>(acc, count * 16 * hd).Clear();
        for (int j0 = 0; j0 < n; j0 += Tile)
        {
            int rows = Math.Min(Tile, n - j0);
            WidenRows(cache, _layer, table, kvh, j0, rows, keys: false, tile);
            for (int i = 0; i < count; i++)
            {
                float* p = probs + (long)i * n + j0, a = acc + i * 16 * hd;
                for (int r = 0; r < rows; r++) ExactKernels.Fma(p[r], tile + r * hd, a + ((j0 + r) & 15) * hd, hd);
            }
        }
        for (int i = 0; i < count; i++) ExactKernels.ReduceLanes16(acc + i * 16 * hd, hd, o + i * hd);
    }

    /// <summary>
    /// Σ_j p_j·V_j for a lone decode token, summed as ggml_vec_dot_f16 sums it over the cache length padded to
    /// 32: four 16-lane chains over whole 64-position steps, then the remaining positions in double.
    /// </summary>
    private void ValuesGemv(KvCache cache, int[] table, int kvh, int n, int count, float* probs, float* tile, float* acc, double* sum, float* o)
    {
        int hd = Config.HeadDim;
        int padded = Math.Min(Config.ContextLength, Math.Max(32, (n + 31) & ~31));
        int np = Math.Min(padded & ~63, n);
        new Span<float>(acc, count * 64 * hd).Clear();
        // np is a multiple of 64 or all of n, so the chained positions are whole tiles, the tail one more.
        for (int j0 = 0; j0 < np; j0 += Tile)
        {
            int rows = Math.Min(Tile, np - j0);
            WidenRows(cache, _layer, table, kvh, j0, rows, keys: false, tile);
            for (int i = 0; i < count; i++)
            {
                float* p = probs + (long)i * n + j0, a = acc + i * 64 * hd;
                for (int r = 0; r < rows; r++) ExactKernels.Fma(p[r], tile + r * hd, a + r * hd, hd);
            }
        }
        for (int i = 0; i < count; i++)
        {
            float* a = acc + i * 64 * hd;
            double* s = sum + i * hd;
            if (np == 0) { new Span<double>(s, hd).Clear(); continue; }
            ExactKernels.FoldLanes64(a, hd);
            ExactKernels.ReduceLanes16(a, hd, o + i * hd);
            for (int d = 0; d < hd; d++) s[d] = o[i * hd + d];
        }
        if (np < n)
        {
            WidenRows(cache, _layer, table, kvh, np, n - np, keys: false, tile);
            for (int i = 0; i < count; i++)
            {
                float* p = probs + (long)i * n;
                for (int j = np; j < n; j++) ExactKernels.AddProductDouble(p[j], tile + (j - np) * hd, sum + i * hd, hd);
            }
        }
        for (int i = 0; i < count * hd; i++) o[i] = (float)sum[i];
    }

    /// <summary>Widens the K (or V) rows of KV head kvh at positions j0..j0+rows into consecutive float rows.</summary>
    private void WidenRows(KvCache cache, int layer, int[] table, int kvh, int j0, int rows, bool keys, float* dst)
    {
        int hd = Config.HeadDim, bs = cache.BlockSize;
        int block = j0 / bs, off = j0 % bs;
        for (int r = 0; r < rows; r++)
        {
            int slot = table[block] * bs + off;
            Half* src = (keys ? cache.K(layer, slot) : cache.V(layer, slot)) + kvh * hd;
            HalfVec.Widen(src, dst + r * hd, hd);
            if (++off == bs) { off = 0; block++; }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T* Ptr<T>(T[] a) where T : unmanaged => (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(a));
}
