namespace Loom.Engine.Speculative;

/// <summary>Which proposer guesses the draft tokens: prompt lookup, the target's own first layers, or a separate draft model.</summary>
public enum SpeculativeMethod { Ngram, Layers, DraftModel }

/// <summary>
/// How a model-based proposer (<see cref="SpeculativeMethod.Layers"/>, <see cref="SpeculativeMethod.DraftModel"/>)
/// picks its draft tokens for a request that samples: <c>Greedy</c>, its argmax (a point mass, verified by drawing
/// from the target, so a seeded request gets the tokens it gets without speculation); <c>Sample</c>, a draw from its
/// distribution processed like the target's, verified by the speculative-sampling rule (accepted more often; the
/// output follows the target's distribution but is no longer the plain run's token for token). Greedy requests and
/// n-gram drafts are point masses either way.
/// </summary>
public enum DraftSampling { Sample, Greedy }

/// <summary>
/// Speculative decoding settings of an engine (<see cref="EngineOptions.Speculative"/>; null turns it off).
/// </summary>
public sealed record SpeculativeOptions
{
    public SpeculativeMethod Method { get; init; } = SpeculativeMethod.Ngram;
    /// <summary>Layers the self-drafting method runs (<see cref="SpeculativeMethod.Layers"/>): at most the model's.</summary>
    public int DraftLayers { get; init; }
    /// <summary>The draft model (<see cref="SpeculativeMethod.DraftModel"/>): the target's vocabulary; the caller owns it and keeps it loaded while the engine runs.</summary>
    public Loom.Models.LoadedModel? DraftModel { get; init; }
    /// <summary>
    /// How the model-based proposers draft for requests that sample (see <see cref="Speculative.DraftSampling"/>).
    /// Greedy by default: a seed then gives the plain run's tokens whatever the back-off decides, which a sampled
    /// draft cannot promise, since its draws depend on the draft lengths and those on measured pass times.
    /// </summary>
    public DraftSampling DraftSampling { get; init; } = DraftSampling.Greedy;
    /// <summary>Most draft tokens proposed per sequence and step (vLLM's <c>num_speculative_tokens</c>).</summary>
    public int NumTokens { get; init; } = 5;
    /// <summary>Let each sequence's draft length follow its recent acceptance (grow by one after a full accept, else shrink to what was accepted plus one).</summary>
    public bool Adaptive { get; init; } = true;
    /// <summary>Shortest suffix the n-gram proposer matches.</summary>
    public int NgramMin { get; init; } = 1;
    /// <summary>Longest suffix the n-gram proposer matches (it tries the longest first).</summary>
    public int NgramMax { get; init; } = 4;
    /// <summary>
    /// Back-off's hard cap: a step's decode tokens plus draft tokens never exceed this, so from this many running
    /// decodes on nothing is drafted. Below it the engine's measured pass cost decides each step how many draft
    /// tokens pay for themselves (<see cref="DraftBudget"/>).
    /// </summary>
    public int MaxBatchTokens { get; init; } = 32;
    /// <summary>
    /// Whether the measured pass cost may shrink drafts (<see cref="DraftBudget"/>). Off, every proposed token within
    /// <see cref="MaxBatchTokens"/> is verified: for measuring speculation itself, as a benchmark does.
    /// </summary>
    public bool BackOff { get; init; } = true;

    /// <summary>Parses a <c>--speculative</c> value: <c>ngram</c>, or <c>layers:N</c> (self-drafting from the first N layers).</summary>
    public static SpeculativeOptions Parse(string value)
    {
        var v = value.Trim().ToLowerInvariant();
        if (v == "ngram") return new SpeculativeOptions { Method = SpeculativeMethod.Ngram };
        if (v.StartsWith("layers:", StringComparison.Ordinal) && int.TryParse(v["layers:".Length..], System.Globalization.NumberStyles.None, null, out int n) && n >= 1)
            return new SpeculativeOptions { Method = SpeculativeMethod.Layers, DraftLayers = n };
        throw new ArgumentException($"unknown speculative method '{value}' (expected: ngram or layers:N with N >= 1)");
    }

    public void Validate()
    {
        if (!Enum.IsDefined(Method)) throw new ArgumentOutOfRangeException(nameof(Method));
        if (!Enum.IsDefined(DraftSampling)) throw new ArgumentOutOfRangeException(nameof(DraftSampling));
        if (NumTokens is < 1 or > 32) throw new ArgumentOutOfRangeException(nameof(NumTokens), "num-speculative-tokens must be 1..32");
        if (NgramMin < 1 || NgramMax < NgramMin) throw new ArgumentOutOfRangeException(nameof(NgramMin), $"n-gram sizes must satisfy 1 <= min ({NgramMin}) <= max ({NgramMax})");
        if (Method == SpeculativeMethod.DraftModel && DraftModel is null) throw new ArgumentException("the draft-model method needs a draft model", nameof(DraftModel));
        if (Method == SpeculativeMethod.Layers && DraftLayers < 1) throw new ArgumentOutOfRangeException(nameof(DraftLayers), "self-drafting needs at least one layer (layers:N)");
        if (MaxBatchTokens < 1) throw new ArgumentOutOfRangeException(nameof(MaxBatchTokens), "speculative-max-batch-tokens must be at least 1");
    }

    /// <summary>Parses a <c>--speculative-draft-sampling</c> value: <c>greedy</c> or <c>sample</c>.</summary>
    public static DraftSampling ParseDraftSampling(string value) => value.Trim().ToLowerInvariant() switch
    {
        "sample" => DraftSampling.Sample,
        "greedy" => DraftSampling.Greedy,
        _ => throw new ArgumentException($"unknown draft sampling '{value}' (expected: greedy or sample)"),
    };

    /// <summary>The token-lookup proposer these options name, or null for a method that drafts with the model.</summary>
    internal ISpeculativeProposer? CreateProposer() => Method == SpeculativeMethod.Ngram ? new NgramProposer(NgramMin, NgramMax) : null;
}
