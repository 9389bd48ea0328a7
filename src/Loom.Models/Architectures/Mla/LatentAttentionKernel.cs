using System.Numerics;
using Loom.Core.Kernels;
using Loom.Core.Kernels.Attention;

namespace Loom.Models.Architectures.Mla;

/// <summary>
/// Causal attention of one token's heads over its sequence's cached latent rows, read through its block table: a
/// score per position is the dot of the head's [q_lat, q_pe] with the row [c_kv, k_pe], times the scale; the
/// softmax (summed in double, as ggml's) weights a sum of the rows' c_kv parts. Each row is widened to f32 once
/// and serves every head of the work item, which is what makes latent attention cheap to read. A head's numbers
/// depend only on its own query and the cached rows, never on how the heads or tokens are cut into work items.
/// </summary>
internal static unsafe class LatentAttentionKernel
{
    /// <summary>Records the call the work items read (the scratch carries it to the pool's threads).</summary>
    public static void Prepare(MlaScratch s, ForwardBatch batch, KvCache cache, int layer, int heads, int rank, int width, float scale)
    {
        s.Batch = batch; s.Cache = cache; s.Layer = layer; s.Heads = heads; s.Rank = rank; s.Width = width; s.Scale = scale;
    }

    /// <summary>Work items [start, end): item i is token i / parts, its heads' share i % parts.</summary>
    public static void Run(MlaScratch s, int start, int end)
    {
        var ws = Workspace.Current;
        int H = s.Heads, parts = s.Parts, share = (H + parts - 1) / parts, T = s.Batch.TokenCount;
        for (int item = start; item < end; item++)
        {
            int t = item / parts, h0 = item % parts * share, h1 = Math.Min(H, h0 + share);
            if (h0 < h1) Token(s, ws, t, h0, h1, T);
        }
    }

    private static void Token(MlaScratch s, Workspace ws, int t, int h0, int h1, int T)
    {
        var batch = s.Batch;
        var cache = s.Cache;
        int R = s.Rank, W = s.Width, H = s.Heads, n = batch.Positions[t] + 1, heads = h1 - h0, bs = cache.BlockSize;
        int[] table = batch.BlockTable(batch.TokenSeq[t]);
        // Sized for every head over the longest sequence the cache can hold, not for this item: a growing sequence would
        // otherwise regrow whichever thread's workspace took its heads, at a moment that depends on scheduling.
        long longest = Math.Min(s.ContextLength, (long)cache.NumBlocks * bs);
        var scores = ws.Scores((int)Math.Min(int.MaxValue, (long)H * Math.Max(n, longest)));
        var rowBuf = ws.Row(W);
        for (int p = 0; p < n; p++)
        {
            LoadRow(cache, s.Layer, table[p / bs] * bs + p % bs, rowBuf);
            for (int h = h0; h < h1; h++)
                scores[(h - h0) * n + p] = Dot.F32(s.QCat.AsSpan((t * H + h) * W, W), rowBuf.AsSpan(0, W)) * s.Scale;
        }
        for (int h = 0; h < heads; h++) Softmax.Apply(scores.AsSpan(h * n, n));
        for (int h = h0; h < h1; h++) s.OLat.AsSpan((h * T + t) * R, R).Clear();
        for (int p = 0; p < n; p++)
        {
            LoadRow(cache, s.Layer, table[p / bs] * bs + p % bs, rowBuf);
            var lat = rowBuf.AsSpan(0, R);
            for (int h = h0; h < h1; h++) Axpy(scores[(h - h0) * n + p], lat, s.OLat.AsSpan((h * T + t) * R, R));
        }
    }

    /// <summary>The cached row at <paramref name="slot"/> as floats: widened from f16, or scale × int8 group by group.</summary>
    public static void LoadRow(KvCache cache, int layer, int slot, float[] dst)
    {
        int W = cache.KvDim;
        fixed (float* d = dst)
        {
            if (cache.Type == KvCacheType.F16) { Widen(cache.K(layer, slot), d, W); return; }
            int g = cache.HeadDim;
            sbyte* q = cache.KInt8(layer, slot);
            float* sc = cache.KScales(layer, slot);
            for (int i = 0; i < cache.NumKvHeads; i++) Int8Rows.Dequantize(q + i * g, sc[i], d + i * g, g);
        }
    }

    private static void Widen(Half* src, float* dst, int n)
    {
        int i = 0;
        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) System.Runtime.Intrinsics.Vector256.Store(Dot.Widen8((ushort*)src + i), dst + i);
        for (; i < n; i++) dst[i] = (float)src[i];
    }

    /// <summary>y += a·x.</summary>
    private static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        var va = new Vector<float>(a);
        for (; i + Vector<float>.Count <= y.Length; i += Vector<float>.Count)
            (new Vector<float>(y[i..]) + va * new Vector<float>(x[i..])).CopyTo(y[i..]);
        for (; i < y.Length; i++) y[i] += a * x[i];
    }

    /// <summary>Per-thread scratch, grown to the longest sequence seen.</summary>
    private sealed class Workspace
    {
        [ThreadStatic] private static Workspace? t_current;
        public static Workspace Current => t_current ??= new Workspace();
        private float[] _scores = [], _row = [];
        public float[] Scores(int n) => _scores.Length >= n ? _scores : _scores = new float[Math.Max(n, _scores.Length * 2)];
        public float[] Row(int n) => _row.Length >= n ? _row : _row = new float[n];
    }
}

/// <summary>A transformer's buffers for its latent-attention layers, grown to the largest batch seen and then reused.</summary>
internal sealed class MlaScratch
{
    public float[] Q = [], QA = [], Row = [], QNope = [], QLat = [], QCat = [], OLat = [], OV = [], Cos = [], Sin = [];
    public int[] Start = [], Pairs = [];
    public bool[] Lone = [];
    public byte[] Quant = [];
    // The attention call in flight, read by the pool's threads.
    public ForwardBatch Batch = null!;
    public KvCache Cache = null!;
    public int Layer, Heads, Rank, Width, Parts;
    public float Scale;
    /// <summary>The model's context length: with the cache's size, the longest sequence a workspace must score.</summary>
    public int ContextLength;
    private int _tokens = -1;

    public void Ensure(ModelConfig c, MlaAttention?[] layers, int tokens)
    {
        ContextLength = c.ContextLength;
        if (tokens <= _tokens) return;
        var m = c.Mla!;
        int H = c.NumHeads, T = tokens;
        Q = new float[T * H * c.HeadDim]; QA = new float[T * m.QLoraRank]; Row = new float[T * m.CacheRowWidth];
        QNope = new float[H * T * m.QkNopeDim]; QLat = new float[H * T * m.KvLoraRank]; QCat = new float[T * H * m.CacheRowWidth];
        OLat = new float[H * T * m.KvLoraRank]; OV = new float[H * T * m.VHeadDim];
        Cos = new float[T * m.QkRopeDim / 2]; Sin = new float[T * m.QkRopeDim / 2];
        Start = new int[H + 1]; Pairs = new int[2 * H]; Lone = new bool[H * T];
        long quant = 0;
        foreach (var (w, rows) in layers.SelectMany(l => l?.Matrices ?? [])) quant = Math.Max(quant, Core.Kernels.MatMul.ScratchBytes(w, rows * T));
        Quant = new byte[quant];
        _tokens = tokens;
    }
}
