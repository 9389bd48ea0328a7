using System.Buffers;
using Loom.Core.Kernels;
using Loom.Core.Threading;

namespace Loom.Models.Architectures;

/// <summary>
/// The plain, element-at-a-time form of the exact f16 attention: rounds where llama.cpp's non-flash path rounds
/// (f16 cache, Q and probabilities as f16) and sums in its order. <see cref="PagedAttention"/> must reproduce
/// it bit for bit; tests hold the two side by side.
/// </summary>
internal sealed unsafe class ReferenceAttention(ModelConfig config)
{
    private readonly float _attnScale = config.AttentionScoreScale;

    public ModelConfig Config { get; } = config;
    public int KvDim => Config.NumKvHeads * Config.HeadDim;

    private static int Slot(int[] blockTable, int position, int blockSize) => blockTable[position / blockSize] * blockSize + position % blockSize;

    public void Store(ForwardBatch batch, KvCache cache, int layer, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        int kvDim = KvDim;
        for (int t = 0; t < batch.TokenCount; t++)
        {
            int slot = Slot(batch.BlockTable(batch.TokenSeq[t], cache.GroupOf(layer)), batch.Positions[t], cache.BlockSize);
            Half* kd = cache.K(layer, slot), vd = cache.V(layer, slot);
            for (int i = 0; i < kvDim; i++) { kd[i] = (Half)k[t * kvDim + i]; vd[i] = (Half)v[t * kvDim + i]; }
        }
    }

    /// <summary>
    /// Causal attention of every batch token over its own sequence's cached positions 0..pos (in a sliding layer,
    /// the window's last of them; the earlier ones have probability zero, so their products, exact zeros, are left
    /// out of sums whose lanes stay by absolute position), scores soft-capped where the model caps them.
    /// </summary>
    public void Compute(ForwardBatch batch, KvCache cache, int layer, ReadOnlySpan<float> q, Span<float> output)
    {
        fixed (float* qp = q, op = output)
        {
            var job = new AttentionJob(this, batch, cache, layer, qp, op);
            ComputePool.Shared.For(batch.TokenCount * Config.NumHeads, 4096, job, static (j, start, end) => j.Run(start, end));
        }
    }

    private sealed class AttentionJob(ReferenceAttention m, ForwardBatch batch, KvCache cache, int layer, float* q, float* output)
    {
        public void Run(int start, int end)
        {
            var c = m.Config;
            int hd = c.HeadDim, heads = c.NumHeads, group = c.NumHeads / c.NumKvHeads, kvDim = m.KvDim;
            float[] scores = ArrayPool<float>.Shared.Rent(c.ContextLength);
            float[] lanes = ArrayPool<float>.Shared.Rent(hd * 64);
            Span<Half> qh = stackalloc Half[hd];
            try
            {
                for (int item = start; item < end; item++)
                {
                    int t = item / heads, h = item % heads, kvh = h / group;
                    int pos = batch.Positions[t];
                    int[] table = batch.BlockTable(batch.TokenSeq[t], cache.GroupOf(layer));
                    // The reference multiplies the f16 K cache by Q converted to f16.
                    for (int d = 0; d < hd; d++) qh[d] = (Half)q[(t * heads + h) * hd + d];
                    bool lone = batch.SumsAsDecodes(batch.TokenSeq[t]);
                    var sc = scores.AsSpan(0, pos + 1);
                    int lo = c.FirstVisible(layer, pos);
                    for (int j = lo; j <= pos; j++)
                    {
                        var kr = new ReadOnlySpan<Half>(cache.K(layer, Slot(table, j, cache.BlockSize)) + kvh * hd, hd);
                        sc[j] = Dot.F16F16(qh, kr, gemm: !lone) * m._attnScale;
                        if (c.AttnSoftcap != 0) sc[j] = MathF.Tanh(sc[j] * (1.0f / c.AttnSoftcap)) * c.AttnSoftcap;
                    }
                    Softmax.Apply(sc[lo..]);
                    float* o = output + (t * heads + h) * hd;
                    if (lone) m.WeightedValuesGemv(cache, layer, table, kvh, lo, sc, lanes, o);
                    else m.WeightedValuesGemm(cache, layer, table, kvh, lo, sc, lanes, o);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(lanes);
                ArrayPool<float>.Shared.Return(scores);
            }
        }
    }

    /// <summary>
    /// Σ_j p_j·V_j for a prompt token: one chain of 16 lanes (position j feeding lane j % 16) per head
    /// dimension, reduced in a fixed tree, the order llama.cpp's f16 GEMM uses.
    /// </summary>
    private void WeightedValuesGemm(KvCache cache, int layer, int[] table, int kvh, int lo, ReadOnlySpan<float> probs, float[] lanes, float* o)
    {
        int hd = Config.HeadDim;
        var acc = lanes.AsSpan(0, hd * 16);
        acc.Clear();
        for (int j = lo; j < probs.Length; j++)
        {
            // Probabilities meet the f16 V cache as f16, as in the reference.
            float p = (float)(Half)probs[j];
            int lane = j & 15;
            Half* vr = cache.V(layer, Slot(table, j, cache.BlockSize)) + kvh * hd;
            for (int d = 0; d < hd; d++) acc[d * 16 + lane] = MathF.FusedMultiplyAdd(p, (float)vr[d], acc[d * 16 + lane]);
        }
        for (int d = 0; d < hd; d++) o[d] = Dot.ReduceAdd(System.Runtime.Intrinsics.Vector512.Create<float>(acc.Slice(d * 16, 16)));
    }

    /// <summary>
    /// Σ_j p_j·V_j for a lone decode token, summed as ggml_vec_dot_f16 sums it over the cache length padded to
    /// 32: four 16-lane chains over whole 64-position steps, then the remaining positions in double.
    /// </summary>
    private void WeightedValuesGemv(KvCache cache, int layer, int[] table, int kvh, int lo, ReadOnlySpan<float> probs, float[] lanes, float* o)
    {
        int hd = Config.HeadDim, n = probs.Length;
        int padded = Math.Min(Config.ContextLength, Math.Max(32, (n + 31) & ~31));
        int np = Math.Min(padded & ~63, n);
        var acc = lanes.AsSpan(0, hd * 64);
        acc.Clear();
        for (int j = lo; j < np; j++)
        {
            float p = (float)(Half)probs[j];
            int slot = j & 63;
            Half* vr = cache.V(layer, Slot(table, j, cache.BlockSize)) + kvh * hd;
            for (int d = 0; d < hd; d++) acc[d * 64 + slot] = MathF.FusedMultiplyAdd(p, (float)vr[d], acc[d * 64 + slot]);
        }
        for (int d = 0; d < hd; d++)
        {
            var c = acc.Slice(d * 64, 64);
            var v0 = System.Runtime.Intrinsics.Vector512.Create<float>(c[..16]);
            var v1 = System.Runtime.Intrinsics.Vector512.Create<float>(c.Slice(16, 16));
            var v2 = System.Runtime.Intrinsics.Vector512.Create<float>(c.Slice(32, 16));
            var v3 = System.Runtime.Intrinsics.Vector512.Create<float>(c.Slice(48, 16));
            double sum = np == 0 ? 0 : Dot.ReduceAdd((v0 + v2) + (v1 + v3));
            for (int j = Math.Max(np, lo); j < n; j++)
            {
                Half* vr = cache.V(layer, Slot(table, j, cache.BlockSize)) + kvh * hd;
                sum += (float)(Half)probs[j] * (float)vr[d];
            }
            o[d] = (float)sum;
        }
    }
}
