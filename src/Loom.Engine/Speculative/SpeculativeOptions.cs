namespace Loom.Engine.Speculative;

/// <summary>Which proposer guesses the draft tokens.</summary>
public enum SpeculativeMethod { Ngram }

/// <summary>
/// Speculative decoding settings of an engine (<see cref="EngineOptions.Speculative"/>; null turns it off).
/// </summary>
public sealed record SpeculativeOptions
{
    public SpeculativeMethod Method { get; init; } = SpeculativeMethod.Ngram;
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

    /// <summary>Parses a <c>--speculative</c> value: <c>ngram</c>.</summary>
    public static SpeculativeMethod ParseMethod(string value) => value.Trim().ToLowerInvariant() switch
    {
        "ngram" => SpeculativeMethod.Ngram,
        _ => throw new ArgumentException($"unknown speculative method '{value}' (expected: ngram)"),
    };

    public void Validate()
    {
        if (!Enum.IsDefined(Method)) throw new ArgumentOutOfRangeException(nameof(Method));
        if (NumTokens is < 1 or > 32) throw new ArgumentOutOfRangeException(nameof(NumTokens), "num-speculative-tokens must be 1..32");
        if (NgramMin < 1 || NgramMax < NgramMin) throw new ArgumentOutOfRangeException(nameof(NgramMin), $"n-gram sizes must satisfy 1 <= min ({NgramMin}) <= max ({NgramMax})");
        if (MaxBatchTokens < 1) throw new ArgumentOutOfRangeException(nameof(MaxBatchTokens), "speculative-max-batch-tokens must be at least 1");
    }

    /// <summary>The proposer these options name.</summary>
    internal ISpeculativeProposer CreateProposer() => Method switch
    {
        SpeculativeMethod.Ngram => new NgramProposer(NgramMin, NgramMax),
        _ => throw new ArgumentOutOfRangeException(nameof(Method)),
    };
}
