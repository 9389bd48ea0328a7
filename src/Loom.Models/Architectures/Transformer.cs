using Loom.Core.Kernels;
using Loom.Core.Kernels.Quantized;
using Loom.Core.Quantization;
using Loom.Core.Tensors;
using Loom.Core.Threading;
using Loom.Models.Architectures.Mla;
using Loom.Models.Architectures.Moe;

namespace Loom.Models.Architectures;

/// <summary>
/// The Llama-family decoder: one forward pass over a ragged batch of sequences whose K/V live in a paged
/// <see cref="KvCache"/>. Variants (GQA, QKV bias, QK-norm, RoPE kind and scaling, tied embeddings, a
/// mixture-of-experts feed-forward, Gemma's steps in Transformer.Gemma.cs) come from <see cref="ModelConfig"/>. Where llama.cpp rounds (K/V cached as f16, activations converted to the weight's
/// dot type), this does the same, so logits agree closely with the reference.
/// </summary>
public sealed unsafe partial class Transformer : IDisposable
{
    private readonly float[][] _attnNorm, _ffnNorm;
    private readonly float[]?[] _bq, _bk, _bv, _qNorm, _kNorm;
    private readonly float[] _outputNorm;
    private readonly float[] _ropeFactors;
    private readonly PagedAttention _attention;
    private readonly MoeFeedForward?[] _moe;
    private readonly MoeScratch _moeScratch = new();
    private readonly MlaAttention?[] _mla;
    private readonly MlaScratch _mlaScratch = new();
    private readonly List<PackedMatrix> _packed = [];
    private Scratch _s = new();

    /// <summary>
    /// Prepares <paramref name="weights"/> for the forward pass: packs the matrices that have a packed layout here and
    /// checks F16 matrices for non-finite values, the slow part of loading a large model, which
    /// <paramref name="progress"/> hears of tensor by tensor (in bytes of the weights walked).
    /// </summary>
    public Transformer(ModelConfig config, ModelWeights weights, IProgress<WorkProgress>? progress = null)
    {
        Config = config;
        Weights = weights;
        int layers = config.NumLayers;
        _attnNorm = new float[layers][]; _ffnNorm = new float[layers][];
        _bq = new float[layers][]; _bk = new float[layers][]; _bv = new float[layers][];
        _qNorm = new float[layers][]; _kNorm = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            var w = weights.Layers[l];
            _attnNorm[l] = w.AttnNorm.ToFloats(); _ffnNorm[l] = w.FfnNorm.ToFloats();
            _bq[l] = w.Bq?.ToFloats(); _bk[l] = w.Bk?.ToFloats(); _bv[l] = w.Bv?.ToFloats();
            _qNorm[l] = w.QNorm?.ToFloats(); _kNorm[l] = w.KNorm?.ToFloats();
        }
        _outputNorm = weights.OutputNorm.ToFloats();
        var tensors = weights.All().ToArray();
        long total = tensors.Sum(t => t.ByteSize), done = 0;
        foreach (var t in tensors)
        {
            // The embedding is read a row at a time, so it packs only when it is also the classifier.
            bool matmul = t != weights.TokenEmbedding || t == weights.Output;
            if (matmul && t.Packed is null && PackedMatrix.CanPack(t)) _packed.Add(t.Packed = PackedMatrix.Pack(t));
            if (t.Type == Core.Tensors.GgmlType.F16 && t.Shape.Length == 2) t.FiniteF16 = Dot.AllFiniteF16(t);
            done += t.ByteSize;
            progress?.Report(new WorkProgress(done, total, WorkProgress.Bytes, t.Name));
        }
        _moe = weights.Layers.Select(w => w.Moe is { } m ? new MoeFeedForward(config, m, _packed) : null).ToArray();
        _mla = weights.Layers.Select(w => w.Mla is not null ? new MlaAttention(config, w, _packed, weights.Owners) : null).ToArray();
        _ropeFactors = config.ActiveRopeFactors ?? [];
        _attention = new PagedAttention(config);
        (_attnPostNorm, _ffnPostNorm) = PostNormWeights(weights);
    }

    public ModelConfig Config { get; }
    public ModelWeights Weights { get; }
    public int KvDim => Config.NumKvHeads * Config.HeadDim;

    /// <summary>
    /// Runs the batch: writes every batch token's K/V into the cache through its sequence's block table, and
    /// fills <paramref name="logits"/> ([batch.LogitCount, vocab]) for the requested tokens. The work is split over
    /// <paramref name="pool"/> and attention planned by <paramref name="attention"/>: the caller's, never the process's
    /// (<see cref="ComputePool.Shared"/> and <see cref="AttentionPolicy.Default"/> when none are given).
    /// <paramref name="layers"/>, when between 1 and the model's layer count, runs only the first that many layers
    /// before the final norm and the classifier: the model drafting for itself (speculative decoding's self-drafting);
    /// only those layers' K/V are written.
    /// </summary>
    public void Forward(ForwardBatch batch, KvCache cache, Span<float> logits, ComputePool? pool = null, AttentionPolicy? attention = null, int layers = 0)
    {
        pool ??= ComputePool.Shared;
        attention ??= AttentionPolicy.Default;
        var c = Config;
        int T = batch.TokenCount, dim = c.Dim, qDim = c.NumHeads * c.HeadDim, kvDim = KvDim, ffn = c.FfnDim;
        if (logits.Length < batch.LogitCount * c.VocabSize) throw new ArgumentException("logits buffer too small", nameof(logits));
        int numLayers = layers > 0 && layers < c.NumLayers ? layers : c.NumLayers;
        _s.Ensure(this, T, batch.LogitCount, c.ContextLength);
        if (c.IsMoe) _moeScratch.Ensure(c, _moe, T);
        if (c.Mla is not null) _mlaScratch.Ensure(c, _mla, T);
        var s = _s;
        var x = s.X.AsSpan(0, T * dim);
        var xb = s.Xb.AsSpan(0, T * dim);
        // llama.cpp sums a lone decode token's products in another order than a prompt's; follow it per
        // sequence (never per batch), so a sequence gets the same numbers however it is batched.
        var gemv = s.Gemv;
        for (int t = 0; t < T; t++) gemv[t] = batch.SumsAsDecodes(batch.TokenSeq[t]);

        // RoPE angles depend only on position: once per token here, shared by Q and K of every layer.
        int half = c.RopeDim / 2;
        for (int t = 0; t < T; t++)
            Rope.Angles(batch.Positions[t], c.RopeDim, c.RopeTheta, c.RopeFreqScale, _ropeFactors, s.RopeCos.AsSpan(t * half, half), s.RopeSin.AsSpan(t * half, half), c.RopeAttnFactor);
        SlidingRopeAngles(batch);

        // Token embeddings.
        var emb = Weights.TokenEmbedding;
        for (int t = 0; t < T; t++)
        {
            int id = batch.Tokens[t];
            if ((uint)id >= (uint)c.VocabSize) throw new ArgumentOutOfRangeException(nameof(batch), $"token id {id} outside the vocabulary");
            Quants.Dequantize(emb.Type, emb.Row(id), x.Slice(t * dim, dim));
        }
        ScaleEmbeddings(x);

        LayerSteps.AddNorm(pool, s.X, null, s.Xb, _attnNorm[0], T, dim, c.RmsNormEps);
        for (int l = 0; l < numLayers; l++)
        {
            var w = Weights.Layers[l];
            var q = s.Q.AsSpan(0, T * qDim);
            var k = s.K.AsSpan(0, T * kvDim);
            var v = s.V.AsSpan(0, T * kvDim);

            // Attention block (xb holds the normed input).
            int attDim = w.Wo.Cols;
            if (_mla[l] is { } mla) mla.Forward(batch, cache, l, s.Xb, T, gemv, s.Att.AsSpan(0, T * attDim), _mlaScratch, pool);
            else
            {
                MatMul.Compute(xb, T, s.Quant, gemv, w.Wq, q, w.Wk, k, w.Wv, v, pool);
                pool.For(T, qDim + kvDim, (this, l), static (j, start, end) => j.Item1.PrepareQk(j.Item2, start, end));
                cache.Store(batch, l, k, v);
                _attention.Compute(batch, cache, l, q, s.Att.AsSpan(0, T * qDim), pool, attention);
            }
            MatMul.Compute(w.Wo, s.Att.AsSpan(0, T * attDim), T, xb, s.Quant, gemv, pool);
            PostNorm(_attnPostNorm, l, s.Xb, T, pool);

            // Feed-forward block: SwiGLU (GeGLU for Gemma), or a mixture of SwiGLU experts. The reference runs the last layer's FFN
            // only for output tokens, so a sequence's single output token is summed there as a lone token.
            if (l == numLayers - 1) MarkLoneOutputs(batch, gemv);
            LayerSteps.AddNorm(pool, s.X, s.Xb, s.Xb, _ffnNorm[l], T, dim, c.RmsNormEps);
            var ffnOut = s.Xb;
            if (_moe[l] is { } moe) moe.Forward(s.Xb, T, gemv, ffnOut = s.FfnOut, _moeScratch, pool);
            else
            {
                var gate = s.Gate.AsSpan(0, T * ffn);
                MatMul.Compute(xb, T, s.Quant, gemv, w.WGate!, gate, w.WUp!, s.Up.AsSpan(0, T * ffn), pool: pool);
                if (c.Activation == FfnActivation.GeluTanh) LayerSteps.GeGlu(pool, s.Gate, s.Up, T, ffn);
                else LayerSteps.SwiGlu(pool, s.Gate, s.Up, T, ffn);
                MatMul.Compute(w.WDown!, gate, T, xb, s.Quant, gemv, pool);
            }
            PostNorm(_ffnPostNorm, l, ffnOut, T, pool);
            if (l + 1 < numLayers) LayerSteps.AddNorm(pool, s.X, ffnOut, s.Xb, _attnNorm[l + 1], T, dim, c.RmsNormEps);
            else LayerSteps.Add(pool, s.X, ffnOut, T, dim);
        }

        // Final norm and classifier, only for the tokens whose logits are wanted.
        int n = batch.LogitCount;
        if (n == 0) return;
        var xo = s.Xb.AsSpan(0, n * dim);
        for (int i = 0; i < n; i++)
            RmsNorm.Apply(x.Slice(batch.LogitTokens[i] * dim, dim), _outputNorm, xo.Slice(i * dim, dim), c.RmsNormEps);
        var outGemv = s.OutGemv;
        for (int i = 0; i < n; i++) outGemv[i] = gemv[batch.LogitTokens[i]];
        MatMul.Compute(Weights.Output, xo, n, logits[..(n * c.VocabSize)], s.Quant, outGemv, pool);
        SoftcapLogits(logits[..(n * c.VocabSize)]);
    }

    /// <summary>Marks tokens that are their sequence's only logit token as lone tokens.</summary>
    private static void MarkLoneOutputs(ForwardBatch batch, bool[] gemv)
    {
        var logitTokens = batch.LogitTokens;
        for (int i = 0; i < logitTokens.Length; i++)
        {
            int t = logitTokens[i], seq = batch.TokenSeq[t];
            bool lone = (i == 0 || batch.TokenSeq[logitTokens[i - 1]] != seq) && (i == logitTokens.Length - 1 || batch.TokenSeq[logitTokens[i + 1]] != seq);
            if (lone) gemv[t] = true;
        }
    }

    /// <summary>Q and K of tokens [start, end): bias (Qwen2), RMSNorm per head (Qwen3) or over the whole width (OLMoE), then RoPE, then the query scale (phi3, Gemma); V's bias.</summary>
    private void PrepareQk(int l, int start, int end)
    {
        var c = Config;
        int qDim = c.NumHeads * c.HeadDim, kvDim = KvDim, half = c.RopeDim / 2;
        for (int t = start; t < end; t++)
        {
            var q = _s.Q.AsSpan(t * qDim, qDim);
            var k = _s.K.AsSpan(t * kvDim, kvDim);
            AddBias(q, _bq[l]); AddBias(k, _bk[l]); AddBias(_s.V.AsSpan(t * kvDim, kvDim), _bv[l]);
            if (_qNorm[l] is { } qn) QkNorm(q, qn);
            if (_kNorm[l] is { } kn) QkNorm(k, kn);
            bool local = c.SlidingRopeTheta != 0 && c.IsSliding(l);
            var cos = (local ? _s.RopeCosSliding : _s.RopeCos).AsSpan(t * half, half);
            var sin = (local ? _s.RopeSinSliding : _s.RopeSin).AsSpan(t * half, half);
            Rotate(q, cos, sin);
            Rotate(k, cos, sin);
            ScaleQuery(q);
        }
    }

    private static void AddBias(Span<float> y, float[]? bias)
    {
        if (bias is not null) LayerSteps.Add(y, bias);
    }

    private void QkNorm(Span<float> y, float[] weight)
    {
        int hd = Config.QkNormFullWidth ? y.Length : Config.HeadDim;
        for (int h = 0; h < y.Length / hd; h++)
        {
            var head = y.Slice(h * hd, hd);
            RmsNorm.Apply(head, weight, head, Config.RmsNormEps);
        }
    }

    /// <summary>Rotates every head of one token's Q or K.</summary>
    private void Rotate(Span<float> y, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        var c = Config;
        for (int h = 0; h < y.Length / c.HeadDim; h++)
        {
            var head = y.Slice(h * c.HeadDim, c.RopeDim);
            if (c.RopeStyle == RopeStyle.NeoX) Rope.ApplyNeoX(head, cos, sin);
            else Rope.ApplyInterleaved(head, cos, sin);
        }
    }

    public void Dispose()
    {
        foreach (var p in _packed) p.Dispose();
        Weights.Dispose();
    }

    /// <summary>Activation buffers, grown to the largest batch seen and then reused.</summary>
    private sealed class Scratch
    {
        public float[] X = [], Xb = [], FfnOut = [], Q = [], K = [], V = [], Att = [], Gate = [], Up = [], RopeCos = [], RopeSin = [];
        /// <summary>RoPE angles at the sliding layers' own base (Gemma 3); empty when every layer shares one.</summary>
        public float[] RopeCosSliding = [], RopeSinSliding = [];
        public bool[] Gemv = [], OutGemv = [];
        public byte[] Quant = [];
        private int _tokens = -1;

        public void Ensure(Transformer m, int tokens, int logitTokens, int ctx)
        {
            if (tokens <= _tokens) return;
            var c = m.Config;
            int qDim = c.NumHeads * c.HeadDim;
            X = new float[tokens * c.Dim]; Xb = new float[tokens * c.Dim];
            Q = new float[tokens * qDim]; K = new float[tokens * m.KvDim]; V = new float[tokens * m.KvDim];
            Att = new float[tokens * qDim];
            int ffn = c.IsMoe && c.LeadingDenseLayers == 0 ? 0 : c.FfnDim;
            Gate = new float[tokens * ffn]; Up = new float[tokens * ffn];
            FfnOut = new float[c.IsMoe ? tokens * c.Dim : 0];
            Gemv = new bool[tokens]; OutGemv = new bool[tokens];
            RopeCos = new float[tokens * (c.RopeDim / 2)]; RopeSin = new float[tokens * (c.RopeDim / 2)];
            if (c.SlidingRopeTheta != 0) { RopeCosSliding = new float[tokens * (c.RopeDim / 2)]; RopeSinSliding = new float[tokens * (c.RopeDim / 2)]; }
            long quant = 0;
            foreach (var t in m.Weights.All())
                if (t.Shape.Length == 2) quant = Math.Max(quant, MatMul.ScratchBytes(t, tokens));
            Quant = new byte[quant];
            _tokens = tokens;
        }
    }
}
