using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Loom.Core.Kernels;
using Loom.Core.Threading;
using Loom.Core.Kernels.Attention;

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
    public const int Tile = ExactKernels.Tile;

    private readonly float _attnScale;
    // The call in flight, read by the workers, and its plan: which tokens take which path.
    private ForwardBatch _batch = null!;
    private KvCache _cache = null!;
    private int _layer, _parts, _exactCount, _flashCount, _splitCount;
    private float* _q, _out;
    private int[] _exact = new int[16];                 // tokens on the exact path
    private PromptTile[] _flash = new PromptTile[16];    // prompt tiles on the tiled path
    private SplitToken[] _split = new SplitToken[16];    // decode tokens split across threads
    private SplitWork[] _splitItems = new SplitWork[32]; // one split of one KV head of a split token
    private float[] _partials = [];

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
                if (cache.Type == KvCacheType.Int8)
                {
                    int hd = Config.HeadDim;
                    float* ks = cache.KScales(layer, slot), vs = cache.VScales(layer, slot);
                    for (int h = 0; h < Config.NumKvHeads; h++)
                    {
                        ks[h] = Int8Rows.Quantize(kp + t * kvDim + h * hd, hd, cache.KInt8(layer, slot) + h * hd);
                        vs[h] = Int8Rows.Quantize(vp + t * kvDim + h * hd, hd, cache.VInt8(layer, slot) + h * hd);
                    }
                    continue;
                }
                HalfVec.Narrow(kp + t * kvDim, cache.K(layer, slot), kvDim);
                HalfVec.Narrow(vp + t * kvDim, cache.V(layer, slot), kvDim);
            }
    }

    /// <summary>
    /// Causal attention of every batch token over its own sequence's cached positions 0..pos, split over
    /// <paramref name="pool"/> (<see cref="ComputePool.Shared"/> when none) and planned by <paramref name="policy"/>
    /// (<see cref="AttentionPolicy.Default"/> when none).
    /// </summary>
    public void Compute(ForwardBatch batch, KvCache cache, int layer, ReadOnlySpan<float> q, Span<float> output,
        ComputePool? pool = null, AttentionPolicy? policy = null)
    {
        var c = Config;
        pool ??= ComputePool.Shared;
        Plan(batch, cache, policy ?? AttentionPolicy.Default, pool.Threads);
        int kvHeads = c.NumKvHeads;
        int items = _exactCount * kvHeads * _parts + _flashCount * kvHeads + _splitItemCount;
        long work = (long)(batch.TokenCount == 0 ? 0 : batch.Positions[batch.TokenCount - 1] + 1) * c.HeadDim * Group * 4;
        fixed (float* qp = q, op = output)
        {
            _batch = batch; _cache = cache; _layer = layer; _q = qp; _out = op;
            // One thread needs no dispatch (and ComputePool.For allocates its closure even when it runs inline).
            if (pool.Threads <= 1 || items <= 1) Run(0, items);
            else pool.For(items, work, this, static (m, start, end) => m.Run(start, end));
            float* partials = Ptr(_partials);
            int stride = c.HeadDim + 2;
            for (int i = 0; i < _splitCount; i++)
            {
                var (t, splits, offset) = _split[i];
                for (int h = 0; h < c.NumHeads; h++)
                    OnlineSoftmax.Combine(partials + offset + h * splits * stride, splits, c.HeadDim, op + (t * c.NumHeads + h) * c.HeadDim);
            }
            _batch = null!; _cache = null!; _q = _out = null;
        }
    }

    private int _splitItemCount;

    /// <summary>
    /// Sorts the batch's tokens onto the exact, tiled-prompt and split-decode paths (see <see cref="AttentionPolicy"/>)
    /// and sizes the split partials.
    /// </summary>
    private void Plan(ForwardBatch batch, KvCache cache, AttentionPolicy policy, int poolThreads)
    {
        var c = Config;
        int kvHeads = c.NumKvHeads, threads = policy.PlanThreads ?? poolThreads;
        int splitMin = policy.SplitMinPositions, tiledMin = policy.TiledMinPositions;
        bool exactOk = cache.Type == KvCacheType.F16;
        bool reorder = !exactOk || !policy.ExactOnly;
        _exactCount = _flashCount = _splitCount = _splitItemCount = 0;
        int lone = 0;
        for (int s = 0; s < batch.SeqCount; s++) if (batch.SeqTokenCount(s) == 1) lone++;
        long partials = 0;
        for (int s = 0; s < batch.SeqCount; s++)
        {
            int first = batch.SeqTokenStart(s), count = batch.SeqTokenCount(s);
            int end = batch.Positions[first + count - 1] + 1;
            if (count == 1)
            {
                int splits = AttentionPolicy.Splits(end, lone * kvHeads, threads);
                bool split = reorder && (!exactOk || policy.ForceOnline || (splits > 1 && end >= splitMin));
                if (!split) { Add(ref _exact, ref _exactCount, first); continue; }
                Add(ref _split, ref _splitCount, new SplitToken(first, splits, (int)partials));
                for (int kvh = 0; kvh < kvHeads; kvh++)
                    for (int k = 0; k < splits; k++) Add(ref _splitItems, ref _splitItemCount, new SplitWork(_splitCount - 1, kvh, k));
                partials += (long)c.NumHeads * splits * (c.HeadDim + 2);
            }
            else if (reorder && (!exactOk || end >= tiledMin))
                for (int t = 0; t < count; t += AttentionPolicy.TiledQueryTokens)
                    Add(ref _flash, ref _flashCount, new PromptTile(first + t, Math.Min(AttentionPolicy.TiledQueryTokens, count - t)));
            else
                for (int t = 0; t < count; t++) Add(ref _exact, ref _exactCount, first + t);
        }
        AttentionWorkspace.Ensure(ref _partials, partials);
        // Exact items are (token, KV head, share of its query heads): whole groups share the widened rows best,
        // but a lone decode token must still give every thread something to do.
        int units = Math.Max(1, _exactCount * kvHeads);
        _parts = Math.Clamp((threads + units - 1) / units, 1, Group);
        while (Group % _parts != 0) _parts++;
    }

    private static void Add<T>(ref T[] list, ref int count, T item)
    {
        if (list.Length <= count) Array.Resize(ref list, list.Length * 2 + 1);
        list[count++] = item;
    }

    /// <summary>A run of a prompt chunk's tokens that shares each widened K/V tile.</summary>
    private readonly record struct PromptTile(int First, int Tokens);

    /// <summary>A decode token whose positions are split across threads, and where its partial results go.</summary>
    private readonly record struct SplitToken(int Token, int Splits, int PartialsOffset);

    /// <summary>One work item of a split token (its index in the split list): one KV head, one split.</summary>
    private readonly record struct SplitWork(int SplitToken, int KvHead, int Split);

    private void Run(int start, int end)
    {
        var ws = AttentionWorkspace.Current;
        int kvHeads = Config.NumKvHeads, share = Group / _parts;
        int exactItems = _exactCount * kvHeads * _parts, flashItems = _flashCount * kvHeads;
        for (int item = start; item < end; item++)
        {
            if (item < exactItems)
            {
                int part = item % _parts, unit = item / _parts;
                int t = _exact[unit / kvHeads], kvh = unit % kvHeads;
                ExactGroup(ws, t, kvh, kvh * Group + part * share, share);
            }
            else if (item < exactItems + flashItems)
            {
                int f = (item - exactItems) / kvHeads, kvh = (item - exactItems) % kvHeads;
                TiledPrompt(ws, _flash[f].First, _flash[f].Tokens, kvh);
            }
            else
            {
                int i = item - exactItems - flashItems;
                var w = _splitItems[i];
                var st = _split[w.SplitToken];
                SplitDecode(ws, st.Token, st.Splits, st.PartialsOffset, w.KvHead, w.Split);
            }
        }
    }

    /// <summary>Prompt tokens first..first+tokens of one sequence, every query head of KV head kvh, tiled.</summary>
    private void TiledPrompt(AttentionWorkspace ws, int first, int tokens, int kvh)
    {
        var c = Config;
        int hd = c.HeadDim, g = Group, rows = tokens * g;
        var batch = _batch;
        int[] table = batch.BlockTable(batch.TokenSeq[first]);
        int end = batch.Positions[first + tokens - 1] + 1;
        float* qf = LoadQueries(ws, first, tokens, kvh);
        AttentionWorkspace.Ensure(ref ws.Ends, rows);
        for (int i = 0; i < tokens; i++)
            for (int h = 0; h < g; h++) ws.Ends[i * g + h] = batch.Positions[first + i] + 1;
        float* acc = Online(ws, qf, rows, table, kvh, 0, end);
        float* state = Ptr(ws.State);
        for (int i = 0; i < tokens; i++)
            OnlineSoftmax.Finish(state + rows + i * g, acc + i * g * hd, g, hd, _out + ((first + i) * c.NumHeads + kvh * g) * hd);
    }

    /// <summary>Split <paramref name="split"/> of <paramref name="splits"/> of decode token t's positions, heads of KV head kvh.</summary>
    private void SplitDecode(AttentionWorkspace ws, int t, int splits, int offset, int kvh, int split)
    {
        var c = Config;
        int hd = c.HeadDim, g = Group, n = _batch.Positions[t] + 1;
        int a = (int)((long)n * split / splits), b = (int)((long)n * (split + 1) / splits);
        float* qf = LoadQueries(ws, t, 1, kvh);
        AttentionWorkspace.Ensure(ref ws.Ends, g);
        for (int h = 0; h < g; h++) ws.Ends[h] = b;
        float* acc = Online(ws, qf, g, _batch.BlockTable(_batch.TokenSeq[t]), kvh, a, b);
        float* state = Ptr(ws.State);
        int stride = hd + 2;
        for (int h = 0; h < g; h++)
        {
            float* p = Ptr(_partials) + offset + ((kvh * g + h) * splits + split) * stride;
            p[0] = state[h]; p[1] = state[g + h];
            Buffer.MemoryCopy(acc + h * hd, p + 2, hd * sizeof(float), hd * sizeof(float));
        }
    }

    /// <summary>Q rows of tokens first.. × heads of KV head kvh, f16-rounded for an f16 cache as the reference does.</summary>
    private float* LoadQueries(AttentionWorkspace ws, int first, int tokens, int kvh)
    {
        var c = Config;
        int hd = c.HeadDim, g = Group;
        AttentionWorkspace.Ensure(ref ws.Q, tokens * g * hd);
        float* qf = Ptr(ws.Q);
        for (int i = 0; i < tokens; i++)
            Buffer.MemoryCopy(_q + ((first + i) * c.NumHeads + kvh * g) * hd, qf + i * g * hd, g * hd * sizeof(float), g * hd * sizeof(float));
        if (_cache.Type == KvCacheType.F16) HalfVec.RoundTrip(qf, tokens * g * hd);
        return qf;
    }

    /// <summary>Runs the online softmax of <paramref name="rows"/> query rows over positions a..b; returns acc (state in ws.State: m then l).</summary>
    private float* Online(AttentionWorkspace ws, float* qf, int rows, int[] table, int kvh, int a, int b)
    {
        int hd = Config.HeadDim;
        AttentionWorkspace.Ensure(ref ws.State, 2 * rows);
        AttentionWorkspace.Ensure(ref ws.Acc, (long)rows * hd);
        AttentionWorkspace.Ensure(ref ws.Tile, 2 * Tile * hd);
        AttentionWorkspace.Ensure(ref ws.Scores, OnlineSoftmax.ScratchFloats(hd));
        float* m = Ptr(ws.State), l = m + rows, acc = Ptr(ws.Acc), kt = Ptr(ws.Tile), vt = kt + Tile * hd, sc = Ptr(ws.Scores);
        OnlineSoftmax.Reset(m, l, acc, rows, hd);
        fixed (int* ends = ws.Ends)
            for (int j0 = a; j0 < b; j0 += Tile)
            {
                int n = Math.Min(Tile, b - j0);
                WidenRows(_cache, _layer, table, kvh, j0, n, keys: true, kt);
                WidenRows(_cache, _layer, table, kvh, j0, n, keys: false, vt);
                OnlineSoftmax.Tile(qf, rows, hd, _attnScale, ends, j0, n, kt, vt, sc, m, l, acc);
            }
        return acc;
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
        // Sized for the longest sequence the cache can hold at once, so a growing sequence never reallocates
        // mid-generation; the claimed context alone could ask for gigabytes the KV budget will never fill.
        long longest = Math.Min(c.ContextLength, (long)cache.NumBlocks * cache.BlockSize);
        AttentionWorkspace.Ensure(ref ws.Scores, (long)count * Math.Max(n, longest));
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
            if (cache.Type == KvCacheType.Int8)
            {
                sbyte* q = (keys ? cache.KInt8(layer, slot) : cache.VInt8(layer, slot)) + kvh * hd;
                Int8Rows.Dequantize(q, (keys ? cache.KScales(layer, slot) : cache.VScales(layer, slot))[kvh], dst + r * hd, hd);
            }
            else HalfVec.Widen((keys ? cache.K(layer, slot) : cache.V(layer, slot)) + kvh * hd, dst + r * hd, hd);
            if (++off == bs) { off = 0; block++; }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T* Ptr<T>(T[] a) where T : unmanaged => (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(a));
}
