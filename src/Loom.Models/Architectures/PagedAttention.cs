using Loom.Core.Kernels.Attention;
using Loom.Core.Threading;

namespace Loom.Models.Architectures;

/// <summary>
/// Causal softmax attention for every batch token over its own sequence's positions in the paged KV cache:
/// <see cref="AttentionPlanner"/> cuts the batch into work items, the compute pool runs them on the kernels in
/// <c>Loom.Core.Kernels.Attention</c> (<see cref="ExactAttention"/>, equal bit for bit to
/// <see cref="ReferenceAttention"/>, and <see cref="OnlineAttention"/>), and split decode tokens are merged last.
/// One instance serves one model and is not reentrant: a forward pass calls it layer after layer.
/// </summary>
internal sealed unsafe class PagedAttention(ModelConfig config)
{
    private readonly AttentionPlanner _planner = new(config);
    // The call in flight, read by the workers.
    private ForwardBatch _batch = null!;
    private AttentionCall _call;
    private int _group;
    private float[] _partials = [];

    public ModelConfig Config { get; } = config;

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
        int window = c.IsSliding(layer) ? c.SlidingWindow : 0;
        _planner.Plan(batch, cache.Type, policy ?? AttentionPolicy.Default, pool.Threads, window);
        AttentionWorkspace.Ensure(ref _partials, _planner.PartialFloats);
        int items = _planner.Count;
        long work = (long)(batch.TokenCount == 0 ? 0 : batch.Positions[batch.TokenCount - 1] + 1) * c.HeadDim * (c.NumHeads / c.NumKvHeads) * 4;
        fixed (float* qp = q, op = output)
        {
            _batch = batch;
            _group = cache.GroupOf(layer);
            _call = new AttentionCall(cache.Layer(layer, c.HeadDim), qp, op, c.NumHeads, c.ContextLength,
                c.AttentionScoreScale, c.AttnSoftcap, window);
            // One thread needs no dispatch (and ComputePool.For allocates its closure even when it runs inline).
            if (pool.Threads <= 1 || items <= 1) Run(0, items);
            else pool.For(items, work, this, static (m, start, end) => m.Run(start, end));
            float* partials = AttentionWorkspace.Ptr(_partials);
            foreach (var st in _planner.SplitTokens) OnlineAttention.MergeSplits(_call, partials + st.PartialsOffset, st.Token, st.Splits);
            _batch = null!; _call = default;
        }
    }

    private void Run(int start, int end)
    {
        var ws = AttentionWorkspace.Current;
        var batch = _batch;
        var exact = _planner.Exact;
        var prompt = _planner.Prompt;
        var splits = _planner.Splits;
        for (int item = start; item < end; item++)
        {
            if (item < exact.Length)
            {
                var w = exact[item];
                int seq = batch.TokenSeq[w.Token];
                ExactAttention.Heads(_call, ws, batch.BlockTable(seq, _group), w.Token, batch.Positions[w.Token] + 1,
                    lone: batch.SumsAsDecodes(seq), w.KvHead, w.FirstHead, w.Heads);
            }
            else if (item < exact.Length + prompt.Length)
            {
                var w = prompt[item - exact.Length];
                OnlineAttention.Prompt(_call, ws, batch.BlockTable(batch.TokenSeq[w.First], _group), w.First, batch.Positions.Slice(w.First, w.Tokens), w.KvHead);
            }
            else
            {
                var w = splits[item - exact.Length - prompt.Length];
                OnlineAttention.Split(_call, ws, batch.BlockTable(batch.TokenSeq[w.Token], _group), w.Token, batch.Positions[w.Token] + 1,
                    w.KvHead, w.Split, w.Splits, AttentionWorkspace.Ptr(_partials) + w.PartialsOffset);
            }
        }
    }
}
