namespace Loom.Core.Kernels.Attention;

/// <summary>
/// The tiled paths over the paged cache, both on <see cref="OnlineSoftmax"/>: a run of prompt tokens sharing
/// each widened K/V tile, and one split of a long decode token's positions (Flash-Decoding), whose partial
/// states <see cref="MergeSplits"/> combines once every split has run. Every query head of one KV head rides
/// in the same work item, so each widened tile serves the whole group.
/// </summary>
internal static unsafe class OnlineAttention
{
    private const int Tile = ExactKernels.Tile;

    /// <summary>Floats a split token's partial states take: [m, l, acc…] per head and split.</summary>
    public static long PartialFloats(int numHeads, int splits, int headDim) => (long)numHeads * splits * (headDim + 2);

    /// <summary>
    /// Prompt tokens first..first+positions.Length of one sequence (at <paramref name="positions"/>), every
    /// query head of KV head kvh.
    /// </summary>
    public static void Prompt(in AttentionCall call, AttentionWorkspace ws, int[] table, int first, ReadOnlySpan<int> positions, int kvh)
    {
        int hd = call.Kv.HeadDim, g = call.Group, tokens = positions.Length, rows = tokens * g;
        int end = positions[tokens - 1] + 1;
        float* qf = LoadQueries(call, ws, first, tokens, kvh);
        AttentionWorkspace.Ensure(ref ws.Ends, rows);
        AttentionWorkspace.Ensure(ref ws.Starts, rows);
        for (int i = 0; i < tokens; i++)
            for (int h = 0; h < g; h++) { ws.Ends[i * g + h] = positions[i] + 1; ws.Starts[i * g + h] = call.FirstVisible(positions[i]); }
        float* acc = Online(call, ws, qf, rows, table, kvh, call.FirstVisible(positions[0]), end);
        float* state = AttentionWorkspace.Ptr(ws.State);
        for (int i = 0; i < tokens; i++)
            OnlineSoftmax.Finish(state + rows + i * g, acc + i * g * hd, g, hd, call.OutputRow(first + i, kvh * g));
    }

    /// <summary>
    /// Split <paramref name="split"/> of <paramref name="splits"/> of decode token t's visible positions (0..n, or
    /// the window's end of them), heads of KV head kvh, its partial states written into the token's <paramref name="partials"/>.
    /// </summary>
    public static void Split(in AttentionCall call, AttentionWorkspace ws, int[] table, int t, int n, int kvh, int split, int splits, float* partials)
    {
        int hd = call.Kv.HeadDim, g = call.Group;
        int lo = call.FirstVisible(n - 1), span = n - lo;
        int a = lo + (int)((long)span * split / splits), b = lo + (int)((long)span * (split + 1) / splits);
        float* qf = LoadQueries(call, ws, t, 1, kvh);
        AttentionWorkspace.Ensure(ref ws.Ends, g);
        AttentionWorkspace.Ensure(ref ws.Starts, g);
        for (int h = 0; h < g; h++) { ws.Ends[h] = b; ws.Starts[h] = a; }
        float* acc = Online(call, ws, qf, g, table, kvh, a, b);
        float* state = AttentionWorkspace.Ptr(ws.State);
        int stride = hd + 2;
        for (int h = 0; h < g; h++)
        {
            float* p = partials + ((kvh * g + h) * splits + split) * stride;
            p[0] = state[h]; p[1] = state[g + h];
            Buffer.MemoryCopy(acc + h * hd, p + 2, hd * sizeof(float), hd * sizeof(float));
        }
    }

    /// <summary>Every head of split token t: its <paramref name="splits"/> partial states merged into the output.</summary>
    public static void MergeSplits(in AttentionCall call, float* partials, int t, int splits)
    {
        int hd = call.Kv.HeadDim, stride = hd + 2;
        for (int h = 0; h < call.NumHeads; h++)
            OnlineSoftmax.Combine(partials + h * splits * stride, splits, hd, call.OutputRow(t, h));
    }

    /// <summary>Q rows of tokens first.. × heads of KV head kvh, f16-rounded for an f16 cache as the reference does.</summary>
    private static float* LoadQueries(in AttentionCall call, AttentionWorkspace ws, int first, int tokens, int kvh)
    {
        int hd = call.Kv.HeadDim, g = call.Group;
        AttentionWorkspace.Ensure(ref ws.Q, tokens * g * hd);
        float* qf = AttentionWorkspace.Ptr(ws.Q);
        for (int i = 0; i < tokens; i++)
            Buffer.MemoryCopy(call.QueryRow(first + i, kvh * g), qf + i * g * hd, g * hd * sizeof(float), g * hd * sizeof(float));
        if (!call.Kv.Int8) HalfVec.RoundTrip(qf, tokens * g * hd);
        return qf;
    }

    /// <summary>Runs the online softmax of <paramref name="rows"/> query rows over positions a..b; returns acc (state in ws.State: m then l).</summary>
    private static float* Online(in AttentionCall call, AttentionWorkspace ws, float* qf, int rows, int[] table, int kvh, int a, int b)
    {
        var kv = call.Kv;
        int hd = kv.HeadDim;
        AttentionWorkspace.Ensure(ref ws.State, 2 * rows);
        AttentionWorkspace.Ensure(ref ws.Acc, (long)rows * hd);
        AttentionWorkspace.Ensure(ref ws.Tile, 2 * Tile * hd);
        AttentionWorkspace.Ensure(ref ws.Scores, OnlineSoftmax.ScratchFloats(hd));
        float* m = AttentionWorkspace.Ptr(ws.State), l = m + rows, acc = AttentionWorkspace.Ptr(ws.Acc);
        float* kt = AttentionWorkspace.Ptr(ws.Tile), vt = kt + Tile * hd, sc = AttentionWorkspace.Ptr(ws.Scores);
        OnlineSoftmax.Reset(m, l, acc, rows, hd);
        fixed (int* ends = ws.Ends, starts = ws.Starts)
            for (int j0 = a; j0 < b; j0 += Tile)
            {
                int n = Math.Min(Tile, b - j0);
                kv.Widen(table, kvh, j0, n, keys: true, kt);
                kv.Widen(table, kvh, j0, n, keys: false, vt);
                OnlineSoftmax.Tile(call, qf, rows, hd, starts, ends, j0, n, kt, vt, sc, m, l, acc);
            }
        return acc;
    }
}
