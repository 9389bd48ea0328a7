using Loom.Core.Tensors;

namespace Loom.Models.Architectures;

/// <summary>Checks that every tensor has the shape the configuration implies, whatever file it came from.</summary>
public static class WeightShapes
{
    /// <summary>Throws <see cref="ModelFormatException"/> naming <paramref name="path"/> and the first tensor that does not fit.</summary>
    public static void Validate(ModelConfig c, ModelWeights w, string path)
    {
        c.Validate(path);
        int qDim = c.NumHeads * c.HeadDim, kvDim = c.NumKvHeads * c.HeadDim;
        if (w.Layers.Length != c.NumLayers) throw new ModelFormatException(path, $"{w.Layers.Length} layers of weights for {c.NumLayers} layers");
        Expect(w.TokenEmbedding, path, c.Dim, c.VocabSize);
        Expect(w.OutputNorm, path, c.Dim);
        Expect(w.Output, path, c.Dim, c.VocabSize);
        for (int i = 0; i < w.Layers.Length; i++)
        {
            var l = w.Layers[i];
            Expect(l.AttnNorm, path, c.Dim);
            if (c.Mla is { } mla) ExpectMla(c, mla, l, path);
            else
            {
                Expect(l.Wq, path, c.Dim, qDim);
                Expect(l.Wk, path, c.Dim, kvDim);
                Expect(l.Wv, path, c.Dim, kvDim);
                Expect(l.Wo, path, qDim, c.Dim);
            }
            if (l.Bq is not null) Expect(l.Bq, path, qDim);
            if (l.Bk is not null) Expect(l.Bk, path, kvDim);
            if (l.Bv is not null) Expect(l.Bv, path, kvDim);
            if (c.QkvBias && (l.Bq is null || l.Bk is null || l.Bv is null)) throw new ModelFormatException(path, $"{c.Architecture} needs Q/K/V bias tensors");
            if (c.QkNorm)
            {
                if (l.QNorm is null || l.KNorm is null) throw new ModelFormatException(path, $"{c.Architecture} needs Q/K norm tensors");
                Expect(l.QNorm, path, c.QkNormFullWidth ? qDim : c.HeadDim);
                Expect(l.KNorm, path, c.QkNormFullWidth ? kvDim : c.HeadDim);
            }
            Expect(l.FfnNorm, path, c.Dim);
            if (c.PostNorms)
            {
                Expect(Required(l.AttnPostNorm, "post_attention_norm", path), path, c.Dim);
                Expect(Required(l.FfnPostNorm, "post_ffw_norm", path), path, c.Dim);
            }
            if (c.IsMoeLayer(i)) ExpectMoe(c, l.Moe, path);
            else
            {
                Expect(Required(l.WGate, "ffn_gate", path), path, c.Dim, c.FfnDim);
                Expect(Required(l.WUp, "ffn_up", path), path, c.Dim, c.FfnDim);
                Expect(Required(l.WDown, "ffn_down", path), path, c.FfnDim, c.Dim);
            }
        }
    }

    private static void ExpectMla(ModelConfig c, Mla.MlaConfig m, LayerWeights l, string path)
    {
        var a = l.Mla ?? throw new ModelFormatException(path, "a latent-attention layer has no 'attn_kv_a_norm' tensor");
        long H = c.NumHeads;
        if (m.QLoraRank > 0)
        {
            Expect(Required(a.QA, "attn_q_a", path), path, c.Dim, m.QLoraRank);
            Expect(Required(a.QANorm, "attn_q_a_norm", path), path, m.QLoraRank);
            Expect(l.Wq, path, m.QLoraRank, H * c.HeadDim);
        }
        else Expect(l.Wq, path, c.Dim, H * c.HeadDim);
        Expect(l.Wk, path, c.Dim, m.CacheRowWidth);
        Expect(a.KvANorm, path, m.KvLoraRank);
        Expect(l.Wv, path, m.KvLoraRank, H * (m.QkNopeDim + m.VHeadDim));
        Expect(l.Wo, path, H * m.VHeadDim, c.Dim);
    }

    private static void ExpectMoe(ModelConfig c, MoeWeights? m, string path)
    {
        if (m is null) throw new ModelFormatException(path, $"{c.ExpertCount} experts declared, but a layer has no expert tensors");
        int e = c.ExpertCount, ff = c.ExpertFfnDim, sh = c.SharedExpertFfnDim;
        Expect(m.Router, path, c.Dim, e);
        Expect(m.GateExps, path, c.Dim, ff, e);
        Expect(m.UpExps, path, c.Dim, ff, e);
        Expect(m.DownExps, path, ff, c.Dim, e);
        if (m.Router.Type != GgmlType.F32) throw new ModelFormatException(path, $"tensor '{m.Router.Name}' has type {m.Router.Type}, expected F32");
        if (m.ProbsBias is { } b)
        {
            Expect(b, path, e);
            if (b.Type != GgmlType.F32) throw new ModelFormatException(path, $"tensor '{b.Name}' has type {b.Type}, expected F32");
        }
        if (sh == 0) return;
        Expect(Required(m.GateShexp, "ffn_gate_shexp", path), path, c.Dim, sh);
        Expect(Required(m.UpShexp, "ffn_up_shexp", path), path, c.Dim, sh);
        Expect(Required(m.DownShexp, "ffn_down_shexp", path), path, sh, c.Dim);
        if (m.SharedGateInp is { } g)
        {
            Expect(g, path, c.Dim);
            if (g.Type != GgmlType.F32) throw new ModelFormatException(path, $"tensor '{g.Name}' has type {g.Type}, expected F32");
        }
    }

    private static WeightTensor Required(WeightTensor? t, string what, string path) =>
        t ?? throw new ModelFormatException(path, $"a layer has no '{what}' tensor");

    private static void Expect(WeightTensor t, string path, params long[] shape)
    {
        // Trailing 1s are ggml's way of writing a lower-rank tensor.
        int rank = t.Shape.Length;
        while (rank > 1 && t.Shape[rank - 1] == 1) rank--;
        bool ok = rank == shape.Length;
        for (int i = 0; ok && i < rank; i++) ok = t.Shape[i] == shape[i];
        if (!ok) throw new ModelFormatException(path, $"tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", shape)}]");
        if (!TypeTraits.IsSupported(t.Type) || t.Type is GgmlType.Q8_1 or GgmlType.Q8_K)
            throw new ModelFormatException(path, $"tensor '{t.Name}' has type {t.Type}, which cannot be used as a weight");
    }
}
