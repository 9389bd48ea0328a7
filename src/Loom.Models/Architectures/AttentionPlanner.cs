using Loom.Core.Kernels.Attention;

namespace Loom.Models.Architectures;

/// <summary>Exact-path work: query heads FirstHead..FirstHead+Heads of one token, all reading one KV head.</summary>
internal readonly record struct ExactWork(int Token, int KvHead, int FirstHead, int Heads);

/// <summary>Tiled-prompt work: a run of a prompt chunk's tokens sharing each widened K/V tile, every query head of one KV head.</summary>
internal readonly record struct PromptTileWork(int First, int Tokens, int KvHead);

/// <summary>Split-decode work: one split of one KV head of a decode token whose positions are split across threads.</summary>
internal readonly record struct SplitWork(int Token, int KvHead, int Split, int Splits, int PartialsOffset);

/// <summary>A split decode token: where its splits leave their partial states, merged once all have run.</summary>
internal readonly record struct SplitToken(int Token, int Splits, int PartialsOffset);

/// <summary>
/// Sorts a batch's tokens onto attention's paths (see <see cref="AttentionPolicy"/>): the exact path, tiled
/// prompt runs, or decode tokens split across threads, and cuts each into the work items the compute pool
/// hands out: exact items first, then prompt tiles, then splits. Its lists grow to the largest batch seen and
/// are reused, so planning allocates nothing once warm.
/// </summary>
internal sealed class AttentionPlanner(ModelConfig config)
{
    private int[] _exactTokens = new int[16];
    private ExactWork[] _exact = new ExactWork[16];
    private PromptTileWork[] _prompt = new PromptTileWork[16];
    private SplitWork[] _splits = new SplitWork[32];
    private SplitToken[] _splitTokens = new SplitToken[16];
    private int _exactTokenCount, _exactCount, _promptCount, _splitCount, _splitTokenCount;

    public ReadOnlySpan<ExactWork> Exact => _exact.AsSpan(0, _exactCount);
    public ReadOnlySpan<PromptTileWork> Prompt => _prompt.AsSpan(0, _promptCount);
    public ReadOnlySpan<SplitWork> Splits => _splits.AsSpan(0, _splitCount);
    public ReadOnlySpan<SplitToken> SplitTokens => _splitTokens.AsSpan(0, _splitTokenCount);
    public int Count => _exactCount + _promptCount + _splitCount;
    /// <summary>Floats the split tokens' partial states need.</summary>
    public long PartialFloats { get; private set; }

    /// <summary>
    /// Plans <paramref name="batch"/> against a cache of <paramref name="cacheType"/> for a pool of <paramref name="poolThreads"/>,
    /// in a layer whose tokens see the last <paramref name="window"/> positions (0: all of them).
    /// </summary>
    public void Plan(ForwardBatch batch, KvCacheType cacheType, AttentionPolicy policy, int poolThreads, int window = 0)
    {
        var c = config;
        int kvHeads = c.NumKvHeads, group = c.NumHeads / c.NumKvHeads, threads = policy.PlanThreads ?? poolThreads;
        int splitMin = policy.SplitMinPositions, tiledMin = policy.TiledMinPositions;
        bool exactOk = cacheType == KvCacheType.F16;
        bool reorder = !exactOk || !policy.ExactOnly;
        _exactTokenCount = _exactCount = _promptCount = _splitCount = _splitTokenCount = 0;
        int lone = 0;
        for (int s = 0; s < batch.SeqCount; s++) if (batch.SumsAsDecodes(s)) lone += batch.SeqTokenCount(s);
        long partials = 0;
        for (int s = 0; s < batch.SeqCount; s++)
        {
            int first = batch.SeqTokenStart(s), count = batch.SeqTokenCount(s);
            int end = batch.Positions[first + count - 1] + 1;
            // A sliding layer's token attends to at most the window, however long its sequence.
            if (window > 0) end = Math.Min(end, window + count - 1);
            // A verification's rows are decode tokens, each on the path a lone decode of it would take: the exact
            // path's single-token order (identical numbers below the split threshold; above it the split count
            // depends on the decode tokens in the batch, as for any decode).
            if (batch.SumsAsDecodes(s))
                for (int t = first; t < first + count; t++)
                {
                    int positions = batch.Positions[t] + 1;
                    if (window > 0) positions = Math.Min(positions, window);
                    int splits = AttentionPolicy.Splits(positions, lone * kvHeads, threads);
                    bool split = reorder && (!exactOk || policy.ForceOnline || (splits > 1 && positions >= splitMin));
                    if (!split) { Add(ref _exactTokens, ref _exactTokenCount, t); continue; }
                    Add(ref _splitTokens, ref _splitTokenCount, new SplitToken(t, splits, (int)partials));
                    for (int kvh = 0; kvh < kvHeads; kvh++)
                        for (int k = 0; k < splits; k++) Add(ref _splits, ref _splitCount, new SplitWork(t, kvh, k, splits, (int)partials));
                    partials += OnlineAttention.PartialFloats(c.NumHeads, splits, c.HeadDim);
                }
            else if (reorder && (!exactOk || end >= tiledMin))
                for (int t = 0; t < count; t += AttentionPolicy.TiledQueryTokens)
                    for (int kvh = 0; kvh < kvHeads; kvh++)
                        Add(ref _prompt, ref _promptCount, new PromptTileWork(first + t, Math.Min(AttentionPolicy.TiledQueryTokens, count - t), kvh));
            else
                for (int t = 0; t < count; t++) Add(ref _exactTokens, ref _exactTokenCount, first + t);
        }
        PartialFloats = partials;

        // Exact items are (token, KV head, share of its query heads): whole groups share the widened rows best,
        // but a lone decode token must still give every thread something to do.
        int units = Math.Max(1, _exactTokenCount * kvHeads);
        int parts = Math.Clamp((threads + units - 1) / units, 1, group);
        while (group % parts != 0) parts++;
        int share = group / parts;
        for (int i = 0; i < _exactTokenCount; i++)
            for (int kvh = 0; kvh < kvHeads; kvh++)
                for (int part = 0; part < parts; part++)
                    Add(ref _exact, ref _exactCount, new ExactWork(_exactTokens[i], kvh, kvh * group + part * share, share));
    }

    private static void Add<T>(ref T[] list, ref int count, T item)
    {
        if (list.Length <= count) Array.Resize(ref list, list.Length * 2 + 1);
        list[count++] = item;
    }
}
