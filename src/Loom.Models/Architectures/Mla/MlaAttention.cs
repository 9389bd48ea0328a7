using Loom.Core.Kernels;
using Loom.Core.Kernels.Quantized;
using Loom.Core.Quantization;
using Loom.Core.Tensors;
using Loom.Core.Threading;

namespace Loom.Models.Architectures.Mla;

/// <summary>
/// One layer of multi-head latent attention (DeepSeek-V2) in the absorbed-weights form, for prompt and decode
/// tokens alike. The cache holds one row per token: the normed latent c_kv and the RoPE'd shared key k_pe. Each
/// head's query is taken into latent space once (q_lat = W_UKᵀ·q_nope, W_UK being the head's K rows of
/// <c>attn_kv_b</c>, transposed at load), so a score is q_lat·c_kv + q_pe·k_pe, scaled as llama.cpp scales
/// (mscale²/√key length); the softmax-weighted sum of c_kv then goes through W_UV (the head's V rows) to the head's
/// output. That is MQA with one K/V "head" of width kv_lora_rank + rope dim, read through the block tables like
/// every other cache, so paging, the prefix cache, chunked prefill and preemption work unchanged.
/// llama.cpp c392e50 instead decompresses every cached position into per-head K and V; the numbers agree within
/// rounding. <see cref="ReferenceMla"/> is the decompressed form this is tested against.
/// </summary>
internal sealed unsafe class MlaAttention
{
    private readonly ModelConfig _c;
    private readonly MlaConfig _m;
    private readonly LayerWeights _w;
    private readonly float[]? _qaNorm;
    private readonly float[] _kvaNorm;
    /// <summary>Per head, W_UKᵀ: kv_lora_rank rows of nope values.</summary>
    private readonly WeightTensor[] _ukT;
    /// <summary>Per head, W_UV: v rows of kv_lora_rank values (views of attn_kv_b).</summary>
    private readonly WeightTensor[] _uv;
    private readonly float _scale, _ropeScale;
    private readonly (float, float) _corr;

    /// <summary>Builds the per-head matrices of layer <paramref name="w"/>; new buffers go to <paramref name="owners"/>, packed views to <paramref name="packed"/>.</summary>
    public MlaAttention(ModelConfig c, LayerWeights w, List<PackedMatrix> packed, List<IDisposable> owners)
    {
        _c = c; _m = c.Mla!; _w = w;
        var mla = w.Mla!;
        _qaNorm = mla.QANorm is { } qn ? qn.ToFloats() : null;
        _kvaNorm = mla.KvANorm.ToFloats();
        int H = c.NumHeads, R = _m.KvLoraRank, nope = _m.QkNopeDim, v = _m.VHeadDim;
        var kvb = w.Wv;
        // W_UKᵀ keeps attn_kv_b's precision where it is a float type; a quantized attn_kv_b is widened to f16, which
        // holds its dequantized values closely.
        var type = kvb.Type == GgmlType.F32 ? GgmlType.F32 : GgmlType.F16;
        long headBytes = (long)R * TypeTraits.RowSize(type, nope);
        var buffer = new NativeBuffer(headBytes * H);
        owners.Add(buffer);
        _ukT = new WeightTensor[H];
        _uv = new WeightTensor[H];
        var rows = new float[nope * R];
        var col = new float[R];
        var t = new float[nope];
        for (int h = 0; h < H; h++)
        {
            int k0 = h * (nope + v);
            for (int i = 0; i < nope; i++) Quants.Dequantize(kvb.Type, kvb.Row(k0 + i), rows.AsSpan(i * R, R));
            var uk = _ukT[h] = new WeightTensor($"{kvb.Name}[uk {h}]ᵀ", type, [nope, R], (nint)((byte*)buffer.Pointer + h * headBytes), headBytes);
            var dst = new Span<byte>((byte*)uk.Data, (int)headBytes);
            int rowBytes = (int)TypeTraits.RowSize(type, nope);
            for (int r = 0; r < R; r++)
            {
                for (int i = 0; i < nope; i++) t[i] = rows[i * R + r];
                if (type == GgmlType.F32) System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.AsSpan()).CopyTo(dst.Slice(r * rowBytes));
                else Quants.Quantize(type, t, dst.Slice(r * rowBytes, rowBytes));
            }
            if (type == GgmlType.F16) uk.FiniteF16 = Dot.AllFiniteF16(uk);
            var uv = _uv[h] = new WeightTensor($"{kvb.Name}[uv {h}]", kvb.Type, [R, v], kvb.Data + (nint)((k0 + nope) * kvb.RowBytes), v * kvb.RowBytes);
            if (PackedMatrix.CanPack(uv)) packed.Add(uv.Packed = PackedMatrix.Pack(uv));
            if (uv.Type == GgmlType.F16) uv.FiniteF16 = Dot.AllFiniteF16(uv);
        }

        // llama.cpp's YaRN pre-scaling: the scores carry mscale², and RoPE's own magnitude factor is cancelled.
        float fs = c.RopeFreqScale;
        float mscale = _m.AttnFactor * (1.0f + _m.YarnLogMultiplier * MathF.Log(1.0f / fs));
        _scale = 1.0f * mscale * mscale / MathF.Sqrt(c.HeadDim);
        _ropeScale = 1.0f / (1.0f + 0.1f * MathF.Log(1.0f / fs));
        _corr = YarnRope.CorrectionDims(_m.QkRopeDim, _m.YarnOrigContext > 0 ? _m.YarnOrigContext : c.ContextLength, c.RopeTheta, _m.YarnBetaFast, _m.YarnBetaSlow);
    }

    /// <summary>Every matrix this layer multiplies by, with the rows it sees per batch token (heads for the per-head ones).</summary>
    public IEnumerable<(WeightTensor Matrix, int RowsPerToken)> Matrices =>
        _ukT.Concat(_uv).Select(m => (m, _c.NumHeads))
            .Concat(new[] { _w.Mla!.QA, _w.Wq, _w.Wk }.OfType<WeightTensor>().Select(m => (m, 1)));

    /// <summary>
    /// Attention of the batch's <paramref name="tokens"/> normed rows <paramref name="xb"/> for <paramref name="layer"/>:
    /// stores each token's latent row in <paramref name="cache"/> and writes the heads' outputs, [tokens, heads × v],
    /// to <paramref name="output"/> (what <c>attn_output</c> multiplies).
    /// </summary>
    public void Forward(ForwardBatch batch, KvCache cache, int layer, float[] xb, int tokens, bool[] gemv, Span<float> output, MlaScratch s, ComputePool pool)
    {
        var c = _c;
        var m = _m;
        int T = tokens, H = c.NumHeads, R = m.KvLoraRank, P = m.QkRopeDim, W = m.CacheRowWidth, nope = m.QkNopeDim, hd = c.HeadDim, v = m.VHeadDim;
        var x = xb.AsSpan(0, T * c.Dim);
        var q = s.Q.AsSpan(0, T * H * hd);
        var row = s.Row.AsSpan(0, T * W);

        // Projections: Q (through the low-rank pair when there is one) and the cached row.
        if (_w.Mla!.QA is { } qa)
        {
            var qaOut = s.QA.AsSpan(0, T * m.QLoraRank);
            MatMul.Compute(x, T, s.Quant, gemv, qa, qaOut, _w.Wk, row, pool: pool);
            for (int t = 0; t < T; t++)
            {
                var r = qaOut.Slice(t * m.QLoraRank, m.QLoraRank);
                RmsNorm.Apply(r, _qaNorm!, r, c.RmsNormEps);
            }
            MatMul.Compute(_w.Wq, qaOut, T, q, s.Quant, gemv, pool);
        }
        else MatMul.Compute(x, T, s.Quant, gemv, _w.Wq, q, _w.Wk, row, pool: pool);

        // Norm the latent, rotate k_pe and every head's q_pe, and gather q_nope head by head.
        int half = P / 2;
        for (int t = 0; t < T; t++)
        {
            var cos = s.Cos.AsSpan(t * half, half);
            var sin = s.Sin.AsSpan(t * half, half);
            YarnRope.Angles(batch.Positions[t], P, c.RopeTheta, c.RopeFreqScale, m.YarnExtFactor, _corr, _ropeScale, cos, sin);
            var lat = row.Slice(t * W, R);
            RmsNorm.Apply(lat, _kvaNorm, lat, c.RmsNormEps);
            Rope.ApplyInterleaved(row.Slice(t * W + R, P), cos, sin);
            for (int h = 0; h < H; h++)
            {
                var qh = q.Slice((t * H + h) * hd, hd);
                Rope.ApplyInterleaved(qh.Slice(nope, P), cos, sin);
                qh[..nope].CopyTo(s.QNope.AsSpan((h * T + t) * nope, nope));
            }
        }
        for (int h = 0; h < H; h++)
        {
            s.Start[h] = h * T;
            Array.Copy(gemv, 0, s.Lone, h * T, T);
        }
        s.Start[H] = H * T;
        cache.Store(batch, layer, row);

        // Into latent space: q_lat[h] = W_UKᵀ[h]·q_nope[h], then each token's heads as [q_lat, q_pe] rows.
        MatMul.ComputeGrouped(s.QNope.AsSpan(0, H * T * nope), s.Start, H, _ukT, s.QLat.AsSpan(0, H * T * R), s.Quant, s.Pairs, s.Lone, pool);
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++)
            {
                var qc = s.QCat.AsSpan((t * H + h) * W, W);
                s.QLat.AsSpan((h * T + t) * R, R).CopyTo(qc);
                q.Slice((t * H + h) * hd + nope, P).CopyTo(qc[R..]);
            }

        // Attention over the cached rows: (token, share of heads) work items, each the same numbers however cut.
        int parts = Math.Clamp((pool.Threads * 2 + T - 1) / T, 1, H);
        s.Parts = parts;
        LatentAttentionKernel.Prepare(s, batch, cache, layer, H, R, W, _scale);
        long work = (long)(batch.TokenCount == 0 ? 0 : batch.Positions[T - 1] + 1) * W * H / parts * 2;
        if (pool.Threads <= 1 || T * parts <= 1) LatentAttentionKernel.Run(s, 0, T * parts);
        else pool.For(T * parts, work, s, static (st, a, b) => LatentAttentionKernel.Run(st, a, b));

        // Out of latent space: o[h] = W_UV[h]·o_lat[h], scattered to [tokens, heads × v].
        MatMul.ComputeGrouped(s.OLat.AsSpan(0, H * T * R), s.Start, H, _uv, s.OV.AsSpan(0, H * T * v), s.Quant, s.Pairs, s.Lone, pool);
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++)
                s.OV.AsSpan((h * T + t) * v, v).CopyTo(output.Slice((t * H + h) * v, v));
    }
}
