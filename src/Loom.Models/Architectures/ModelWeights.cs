using Loom.Core.Tensors;

namespace Loom.Models.Architectures;

/// <summary>One decoder layer's tensors. Matrices are [in, out] in ggml order: one row per output feature.</summary>
public sealed class LayerWeights
{
    public required WeightTensor AttnNorm { get; init; }
    public required WeightTensor Wq { get; init; }
    public required WeightTensor Wk { get; init; }
    public required WeightTensor Wv { get; init; }
    public required WeightTensor Wo { get; init; }
    public WeightTensor? Bq { get; init; }
    public WeightTensor? Bk { get; init; }
    public WeightTensor? Bv { get; init; }
    /// <summary>Per-head RMSNorm weights on Q and K (Qwen3), length HeadDim.</summary>
    public WeightTensor? QNorm { get; init; }
    public WeightTensor? KNorm { get; init; }
    public required WeightTensor FfnNorm { get; init; }
    /// <summary>The dense feed-forward; null in a mixture-of-experts layer.</summary>
    public WeightTensor? WGate { get; init; }
    public WeightTensor? WUp { get; init; }
    public WeightTensor? WDown { get; init; }
    /// <summary>RMSNorm weights on the attention output and on the feed-forward output (Gemma's post-norms).</summary>
    public WeightTensor? AttnPostNorm { get; init; }
    public WeightTensor? FfnPostNorm { get; init; }
    /// <summary>The mixture-of-experts feed-forward; null in a dense layer.</summary>
    public MoeWeights? Moe { get; init; }
    /// <summary>
    /// Multi-head latent attention's own tensors (deepseek2); null otherwise. In such a layer <see cref="Wq"/> makes
    /// the query (<c>attn_q</c>, or <c>attn_q_b</c> after <see cref="Mla.MlaWeights.QA"/>), <see cref="Wk"/> the cached
    /// latent and shared RoPE key (<c>attn_kv_a_mqa</c>) and <see cref="Wv"/> every head's K and V from the latent
    /// (<c>attn_kv_b</c>).
    /// </summary>
    public Mla.MlaWeights? Mla { get; init; }
}

/// <summary>
/// A mixture-of-experts layer as llama.cpp's GGUF lays it out: the router <c>ffn_gate_inp</c> [dim, experts], the
/// experts stacked in 3-D tensors <c>ffn_{gate,up}_exps</c> [dim, expert ffn, experts] and <c>ffn_down_exps</c>
/// [expert ffn, dim, experts], and optionally a shared expert (<c>ffn_*_shexp</c>) with its sigmoid gate
/// <c>ffn_gate_inp_shexp</c> [dim].
/// </summary>
public sealed class MoeWeights
{
    public required WeightTensor Router { get; init; }
    public required WeightTensor GateExps { get; init; }
    public required WeightTensor UpExps { get; init; }
    public required WeightTensor DownExps { get; init; }
    public WeightTensor? SharedGateInp { get; init; }
    public WeightTensor? GateShexp { get; init; }
    public WeightTensor? UpShexp { get; init; }
    public WeightTensor? DownShexp { get; init; }
    /// <summary>DeepSeek-V3's expert selection bias <c>exp_probs_b.bias</c> [experts]: added to the scores only to choose experts.</summary>
    public WeightTensor? ProbsBias { get; init; }
}

/// <summary>
/// All tensors of a Llama-family model, plus whatever owns their memory (a mapped file, converted buffers).
/// </summary>
public sealed class ModelWeights : IDisposable
{
    public required WeightTensor TokenEmbedding { get; init; }
    public required LayerWeights[] Layers { get; init; }
    public required WeightTensor OutputNorm { get; init; }
    /// <summary>The classifier; the same tensor as <see cref="TokenEmbedding"/> when embeddings are tied.</summary>
    public required WeightTensor Output { get; init; }
    /// <summary>Mapped files and buffers backing the tensors; disposed with the weights.</summary>
    public List<IDisposable> Owners { get; init; } = [];

    /// <summary>Every tensor once, for inspection and byte counts.</summary>
    public IEnumerable<WeightTensor> All()
    {
        var seen = new HashSet<WeightTensor>(ReferenceEqualityComparer.Instance);
        IEnumerable<WeightTensor?> Each()
        {
            yield return TokenEmbedding;
            foreach (var l in Layers)
            {
                yield return l.AttnNorm; yield return l.Wq; yield return l.Wk; yield return l.Wv; yield return l.Wo;
                yield return l.Bq; yield return l.Bk; yield return l.Bv; yield return l.QNorm; yield return l.KNorm;
                yield return l.AttnPostNorm; yield return l.FfnPostNorm;
                yield return l.FfnNorm; yield return l.WGate; yield return l.WUp; yield return l.WDown;
                if (l.Moe is { } m)
                {
                    yield return m.Router; yield return m.GateExps; yield return m.UpExps; yield return m.DownExps;
                    yield return m.SharedGateInp; yield return m.GateShexp; yield return m.UpShexp; yield return m.DownShexp;
                    yield return m.ProbsBias;
                }
                if (l.Mla is { } a) { yield return a.QA; yield return a.QANorm; yield return a.KvANorm; }
            }
            yield return OutputNorm;
            yield return Output;
        }
        foreach (var t in Each())
            if (t is not null && seen.Add(t)) yield return t;
    }

    public void Dispose()
    {
        foreach (var o in Owners) o.Dispose();
        Owners.Clear();
    }
}
