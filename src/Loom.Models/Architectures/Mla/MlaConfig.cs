namespace Loom.Models.Architectures.Mla;

/// <summary>
/// Multi-head latent attention's shape (DeepSeek-V2, GGUF <c>deepseek2</c>). Each token's keys and values are one
/// latent vector c_kv of <see cref="KvLoraRank"/> values, normed, plus one RoPE'd key part k_pe of
/// <see cref="QkRopeDim"/> values shared by every head; per head, K = [W_UK·c_kv, k_pe] and V = W_UV·c_kv, with
/// W_UK and W_UV the rows of <c>attn_kv_b</c>. The cache keeps only [c_kv, k_pe].
/// </summary>
public sealed record MlaConfig
{
    /// <summary>Rank of the query's low-rank projection (<c>attn_q_a</c>, <c>attn_q_b</c>); 0 when Q is one matrix (V2-Lite).</summary>
    public required int QLoraRank { get; init; }
    /// <summary>Width of the latent c_kv the cache stores.</summary>
    public required int KvLoraRank { get; init; }
    /// <summary>Per-head width of the part of Q and K without RoPE.</summary>
    public required int QkNopeDim { get; init; }
    /// <summary>Per-head width of the RoPE'd part of Q, and of the one k_pe all heads share.</summary>
    public required int QkRopeDim { get; init; }
    /// <summary>Per-head width of V (and of the attention output each head hands to <c>attn_output</c>).</summary>
    public required int VHeadDim { get; init; }
    /// <summary>Scores are multiplied by mscale² (llama.cpp's YaRN pre-scaling): mscale = AttnFactor·(1 + this·ln(1/freq scale)).</summary>
    public float YarnLogMultiplier { get; init; }
    /// <summary>YaRN's mix of extrapolated and interpolated frequencies: 1 with YaRN scaling, 0 without.</summary>
    public float YarnExtFactor { get; init; }
    /// <summary>The training context YaRN's correction dimensions are computed for.</summary>
    public int YarnOrigContext { get; init; }
    public float YarnBetaFast { get; init; } = 32f;
    public float YarnBetaSlow { get; init; } = 1f;
    /// <summary>llama.cpp's <c>rope.scaling.attn_factor</c> (1 unless the file says otherwise).</summary>
    public float AttnFactor { get; init; } = 1f;

    /// <summary>Cached values per token and layer: c_kv then k_pe.</summary>
    public int CacheRowWidth => KvLoraRank + QkRopeDim;

    /// <summary>
    /// The cached row is stored as groups of this width (the int8 cache keeps one scale per group): the largest
    /// width that divides both parts, so c_kv and k_pe, whose magnitudes differ, never share a scale.
    /// </summary>
    public int CacheGroupWidth => Gcd(KvLoraRank, QkRopeDim);
    public int CacheGroups => CacheRowWidth / CacheGroupWidth;

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);

    /// <summary>Checks the shape against the heads; throws <see cref="ModelFormatException"/> naming <paramref name="path"/> and the key.</summary>
    public void Validate(ModelConfig c, string path)
    {
        string a = c.Architecture;
        void Check(bool ok, string problem) { if (!ok) throw new ModelFormatException(path, problem); }
        Check(KvLoraRank > 0 && KvLoraRank <= ModelLimits.MaxWidth, $"metadata '{a}.attention.kv_lora_rank' = {KvLoraRank} is out of range ({ModelLimits.Range(ModelLimits.MaxWidth)})");
        Check(QLoraRank >= 0 && QLoraRank <= ModelLimits.MaxWidth, $"metadata '{a}.attention.q_lora_rank' = {QLoraRank} is out of range ({ModelLimits.Range(ModelLimits.MaxWidth)})");
        Check(QkRopeDim > 0 && QkRopeDim % 2 == 0 && QkRopeDim < c.HeadDim,
            $"metadata '{a}.rope.dimension_count' = {QkRopeDim} must be even and below '{a}.attention.key_length' = {c.HeadDim}");
        Check(VHeadDim > 0 && VHeadDim <= c.HeadDim, $"metadata '{a}.attention.value_length' = {VHeadDim} is out of range (1 to key length {c.HeadDim})");
        Check(float.IsFinite(YarnLogMultiplier) && YarnLogMultiplier >= 0, $"metadata '{a}.rope.scaling.yarn_log_multiplier' = {YarnLogMultiplier}");
        Check(float.IsFinite(AttnFactor) && AttnFactor > 0, $"metadata '{a}.rope.scaling.attn_factor' = {AttnFactor}");
        Check(YarnExtFactor == 0 || YarnOrigContext > 0, $"metadata '{a}.rope.scaling.original_context_length' = {YarnOrigContext}");
    }
}
