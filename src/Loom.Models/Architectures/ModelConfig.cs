namespace Loom.Models.Architectures;

/// <summary>
/// Hyperparameters of a Llama-family decoder, whatever file they came from. The transformer is one
/// implementation driven by these flags (GQA, RoPE kind and scaling, QKV bias, QK-norm, tied embeddings).
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Architecture name as GGUF spells it: llama, mistral, qwen2, qwen3, qwen2moe, qwen3moe, olmoe, deepseek2, phi3, gemma2, gemma3.</summary>
    public required string Architecture { get; init; }
    public required int VocabSize { get; init; }
    /// <summary>Model (embedding) width.</summary>
    public required int Dim { get; init; }
    /// <summary>Feed-forward hidden width.</summary>
    public required int FfnDim { get; init; }
    public required int NumLayers { get; init; }
    public required int NumHeads { get; init; }
    public required int NumKvHeads { get; init; }
    public required int HeadDim { get; init; }
    /// <summary>Training context length; the engine refuses positions past it.</summary>
    public required int ContextLength { get; init; }
    public float RmsNormEps { get; init; } = 1e-5f;
    public float RopeTheta { get; init; } = 10000f;
    /// <summary>Dimensions of each head that RoPE rotates (the rest pass through).</summary>
    public int RopeDim { get; init; }
    public RopeStyle RopeStyle { get; init; } = RopeStyle.Interleaved;
    /// <summary>Linear position scaling: positions are multiplied by this (1 / scaling factor).</summary>
    public float RopeFreqScale { get; init; } = 1f;
    /// <summary>Per-frequency divisors (Llama 3 rope scaling), length RopeDim/2, or null.</summary>
    public float[]? RopeFreqFactors { get; init; }
    /// <summary>LongRoPE's long and short divisors (Phi-3); used when <see cref="RopeFreqFactors"/> is null.</summary>
    public LongRope? LongRope { get; init; }
    /// <summary>Multiplies RoPE's cos and sin (ggml's <c>attn_factor</c>, from <c>rope.scaling.attn_factor</c>), so Q·K by its square.</summary>
    public float RopeAttnFactor { get; init; } = 1f;
    /// <summary>The divisors RoPE runs with: the file's frequency factors, else LongRoPE's set for this context, else none.</summary>
    public float[]? ActiveRopeFactors => RopeFreqFactors ?? LongRope?.Factors(ContextLength);
    /// <summary>What attention multiplies each q·k by: 1/√head dim, or 1 when <see cref="QueryScale"/> scaled Q already.</summary>
    public float AttentionScoreScale => QueryScale > 0 ? 1f : 1.0f / MathF.Sqrt(HeadDim);
    public bool TiedEmbeddings { get; init; }
    public bool QkvBias { get; init; }
    public bool QkNorm { get; init; }
    /// <summary>Q and K are RMS-normed over their whole width (OLMoE), not head by head (Qwen3).</summary>
    public bool QkNormFullWidth { get; init; }
    /// <summary>Routed experts per layer; 0 for a dense feed-forward.</summary>
    public int ExpertCount { get; init; }
    /// <summary>Experts each token is routed to (top-k).</summary>
    public int ExpertUsedCount { get; init; }
    /// <summary>Hidden width of one routed expert.</summary>
    public int ExpertFfnDim { get; init; }
    /// <summary>Hidden width of the shared expert every token also runs (Qwen2-MoE); 0 when there is none.</summary>
    public int SharedExpertFfnDim { get; init; }
    /// <summary>The top-k routing weights are renormalized to sum to one (Mixtral, Qwen3-MoE), or kept as softmax gave them.</summary>
    public bool ExpertWeightsNorm { get; init; }
    /// <summary>Factor applied to the routing weights after any normalization.</summary>
    public float ExpertWeightsScale { get; init; } = 1f;
    public bool IsMoe => ExpertCount > 0;
    /// <summary>The first this many layers have a dense feed-forward before the mixture-of-experts ones (DeepSeek).</summary>
    public int LeadingDenseLayers { get; init; }
    /// <summary>How router logits become expert scores: softmax, or an independent sigmoid per expert (DeepSeek-V3).</summary>
    public Moe.MoeGating ExpertGating { get; init; } = Moe.MoeGating.Softmax;
    /// <summary>Group-limited routing (DeepSeek): experts in this many equal groups, of which only the best
    /// <see cref="ExpertGroupUsedCount"/> may be chosen from; 0 or 1 for none.</summary>
    public int ExpertGroupCount { get; init; }
    public int ExpertGroupUsedCount { get; init; }
    /// <summary>Multi-head latent attention (deepseek2); null for ordinary attention.</summary>
    public Mla.MlaConfig? Mla { get; init; }
    public bool IsMoeLayer(int layer) => IsMoe && layer >= LeadingDenseLayers;
    /// <summary>The KV cache's row per token and layer, in groups (one int8 scale each): KV heads × head dim, or MLA's latent row.</summary>
    public int CacheHeads => Mla?.CacheGroups ?? NumKvHeads;
    public int CacheHeadDim => Mla?.CacheGroupWidth ?? HeadDim;
    /// <summary>MLA caches one row that serves as K and (its latent part) as V, so there is no separate V.</summary>
    public bool CacheKeysOnly => Mla is not null;

    // Gemma 2 and 3 (see Transformer.Gemma.cs), and phi3's query scale and window. Each is off at its default, so other families never see them.
    /// <summary>Token embeddings are multiplied by this (Gemma: sqrt(dim)); 0 leaves them as stored.</summary>
    public float EmbeddingScale { get; init; }
    /// <summary>
    /// When positive, Q is multiplied by this after RoPE, in f32 as llama.cpp's <c>ggml_scale</c> does, and attention
    /// scales the scores by 1 (Gemma's query_pre_attn_scalar; phi3's 1/√head dim, applied before Q is rounded to f16
    /// for the dot with the cache); 0 for 1/√head dim in attention.
    /// </summary>
    public float QueryScale { get; init; }
    /// <summary>Attention scores become cap·tanh(score/cap) before the softmax (Gemma 2); 0 for none.</summary>
    public float AttnSoftcap { get; init; }
    /// <summary>Logits become cap·tanh(logit/cap) (Gemma 2); 0 for none.</summary>
    public float FinalSoftcap { get; init; }
    /// <summary>Positions a sliding layer's token sees: itself and the SlidingWindow - 1 before it; 0 when no layer slides.</summary>
    public int SlidingWindow { get; init; }
    /// <summary>Which layers use the sliding window (the rest attend over everything); null when none do.</summary>
    public bool[]? SlidingLayers { get; init; }
    /// <summary>RoPE base of the sliding layers (Gemma 3: 10000, its global layers use <see cref="RopeTheta"/> and <see cref="RopeFreqScale"/>); 0 when every layer uses RopeTheta.</summary>
    public float SlidingRopeTheta { get; init; }
    /// <summary>The attention output and the feed-forward output are RMS-normed again before their residual adds (Gemma).</summary>
    public bool PostNorms { get; init; }
    /// <summary>The gated feed-forward's activation: SiLU (SwiGLU) or tanh-approximated GELU (GeGLU, Gemma).</summary>
    public FfnActivation Activation { get; init; } = FfnActivation.Silu;

    /// <summary>Whether <paramref name="layer"/> attends only over the last <see cref="SlidingWindow"/> positions.</summary>
    public bool IsSliding(int layer) => SlidingWindow > 0 && SlidingLayers is { } s && s[layer];

    /// <summary>The first position a token at <paramref name="position"/> sees in <paramref name="layer"/>.</summary>
    public int FirstVisible(int layer, int position) => IsSliding(layer) ? Math.Max(0, position - SlidingWindow + 1) : 0;

    /// <summary>Checks that the numbers describe a runnable model; throws <see cref="ModelFormatException"/> naming <paramref name="path"/>.</summary>
    public void Validate(string path)
    {
        void Check(bool ok, string problem) { if (!ok) throw new ModelFormatException(path, problem); }
        void InRange(long value, long max, string what) => Check(value > 0 && value <= max, $"{what} {value} is out of range ({ModelLimits.Range(max)})");
        InRange(VocabSize, ModelLimits.MaxVocab, "vocab size");
        InRange(Dim, ModelLimits.MaxWidth, "embedding length");
        InRange(FfnDim, ModelLimits.MaxWidth, "feed-forward length");
        InRange(NumLayers, ModelLimits.MaxLayers, "layer count");
        InRange(NumHeads, ModelLimits.MaxHeads, "head count");
        InRange(NumKvHeads, ModelLimits.MaxHeads, "KV head count");
        InRange(HeadDim, ModelLimits.MaxHeadDim, "head dim");
        InRange(ContextLength, ModelLimits.MaxContext, "context length");
        InRange((long)NumHeads * HeadDim, ModelLimits.MaxWidth, "heads × head dim");
        Check(NumHeads % NumKvHeads == 0, $"{NumHeads} heads cannot share {NumKvHeads} KV heads");
        Check(HeadDim % 2 == 0, $"head dim {HeadDim} is odd");
        Check(RopeDim > 0 && RopeDim <= HeadDim && RopeDim % 2 == 0, $"rope dim {RopeDim} for head dim {HeadDim}");
        Check(RmsNormEps > 0 && float.IsFinite(RmsNormEps), $"rms norm eps {RmsNormEps}");
        Check(RopeTheta > 0 && float.IsFinite(RopeTheta), $"rope theta {RopeTheta}");
        if (IsMoe)
        {
            InRange(ExpertCount, ModelLimits.MaxExperts, "expert count");
            Check(ExpertUsedCount > 0 && ExpertUsedCount <= ExpertCount, $"{ExpertUsedCount} experts used per token out of {ExpertCount}");
            InRange(ExpertFfnDim, ModelLimits.MaxWidth, "expert feed-forward length");
            Check(SharedExpertFfnDim >= 0 && SharedExpertFfnDim <= ModelLimits.MaxWidth, $"shared expert feed-forward length {SharedExpertFfnDim}");
            Check(ExpertWeightsScale > 0 && float.IsFinite(ExpertWeightsScale), $"expert weights scale {ExpertWeightsScale}");
            Check(LeadingDenseLayers >= 0 && LeadingDenseLayers < NumLayers, $"{LeadingDenseLayers} leading dense layers of {NumLayers}");
            if (ExpertGroupCount > 1)
            {
                Check(ExpertCount % ExpertGroupCount == 0, $"metadata '{Architecture}.expert_group_count' = {ExpertGroupCount} does not divide {ExpertCount} experts");
                Check(ExpertGroupUsedCount > 0 && ExpertGroupUsedCount <= ExpertGroupCount && ExpertGroupUsedCount * (ExpertCount / ExpertGroupCount) >= ExpertUsedCount,
                    $"metadata '{Architecture}.expert_group_used_count' = {ExpertGroupUsedCount} of {ExpertGroupCount} groups cannot hold {ExpertUsedCount} experts per token");
            }
        }
        Check(SlidingWindow >= 0 && (SlidingWindow == 0) == (SlidingLayers is null), $"sliding window {SlidingWindow} without its layer pattern, or a pattern without a window");
        Check(SlidingLayers is null || SlidingLayers.Length == NumLayers, "the sliding-layer pattern does not cover every layer");
        Check(AttnSoftcap >= 0 && float.IsFinite(AttnSoftcap), $"attention logit softcapping {AttnSoftcap}");
        Check(FinalSoftcap >= 0 && float.IsFinite(FinalSoftcap), $"final logit softcapping {FinalSoftcap}");
        Check(SlidingRopeTheta >= 0 && float.IsFinite(SlidingRopeTheta), $"sliding-layer rope theta {SlidingRopeTheta}");
        Mla?.Validate(this, path);
        Check(RopeFreqFactors is null || RopeFreqFactors.Length == RopeDim / 2, "rope frequency factors do not match the rope dimension");
        Check(LongRope is null || (LongRope.Long.Length == RopeDim / 2 && LongRope.Short.Length == RopeDim / 2), "LongRoPE factors do not match the rope dimension");
        Check(LongRope is null || LongRope.OriginalContext > 0, "LongRoPE needs a positive original context length");
        Check(QueryScale >= 0 && float.IsFinite(QueryScale), $"query scale {QueryScale}");
        Check(RopeAttnFactor > 0 && float.IsFinite(RopeAttnFactor), $"rope attention factor {RopeAttnFactor}");
    }
}
