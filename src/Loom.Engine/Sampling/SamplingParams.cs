namespace Loom.Engine.Sampling;

/// <summary>
/// Per-request sampling settings, with the meanings and ranges of vLLM's <c>SamplingParams</c>
/// (which extends the OpenAI completion parameters).
/// </summary>
/// <remarks>
/// Processing order in <see cref="Sampler"/>: min-tokens stop masking, repetition penalty, presence/frequency
/// penalties, then either greedy argmax (temperature 0) or temperature, top-k, top-p, min-p and a draw from the
/// renormalised distribution.
/// </remarks>
public sealed record SamplingParams
{
    /// <summary>Most alternatives <see cref="Logprobs"/> may ask for (vLLM's default <c>max_logprobs</c>, OpenAI's limit).</summary>
    public const int MaxLogprobs = 20;

    /// <summary>Divides logits before sampling; 0 selects greedy decoding (argmax, lowest id on ties).</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Keep only the k most likely tokens; 0 or -1 disables.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling: keep the smallest most-likely set whose probability reaches this mass; 1 disables.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Drop tokens whose probability is below <c>MinP * p_max</c>; 0 disables.</summary>
    public float MinP { get; init; }

    /// <summary>vLLM/HF repetition penalty over prompt and output tokens; 1 disables.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>OpenAI presence penalty, subtracted once from every token already in the output.</summary>
    public float PresencePenalty { get; init; }

    /// <summary>OpenAI frequency penalty, subtracted once per occurrence of a token in the output.</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>Seed for reproducible sampling; null draws a random seed.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Most tokens to generate.</summary>
    public int MaxTokens { get; init; } = 16;

    /// <summary>Stop tokens (EOS and <see cref="StopTokenIds"/>) are masked until this many tokens were generated.</summary>
    public int MinTokens { get; init; }

    /// <summary>Strings that end generation; the matched string is not part of the output.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>Token ids that end generation in addition to EOS.</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Keep generating past EOS (stop strings and <see cref="StopTokenIds"/> still apply).</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>
    /// Leave control tokens out of the text (vLLM's <c>skip_special_tokens</c>). Off when the text must show one, as a
    /// tool-call parser needs Llama's <c>&lt;|python_tag|&gt;</c> or Mistral's <c>[TOOL_CALLS]</c>.
    /// </summary>
    public bool SkipSpecialTokens { get; init; } = true;

    /// <summary>Number of top alternatives to report with each token (0..<see cref="MaxLogprobs"/>); null reports none.</summary>
    public int? Logprobs { get; init; }

    /// <summary>Number of completions to generate for the prompt.</summary>
    public int N { get; init; } = 1;

    /// <summary>Let the engine speculate for this request when it is set up to (false opts out; the output is the same either way).</summary>
    public bool Speculative { get; init; } = true;

    /// <summary>
    /// Structured output: the output must be a string of this constraint's language (a JSON schema, any JSON object,
    /// a GBNF grammar, a regex or a choice). The engine masks, before every other logits processor, the tokens that
    /// would leave the language, allows end-of-generation only where the output is complete, and ends the sequence
    /// as soon as nothing can follow. Null: unconstrained.
    /// </summary>
    public Structured.Constraint? Constraint { get; init; }

    /// <summary>True when <see cref="Temperature"/> selects greedy decoding.</summary>
    public bool IsGreedy => Temperature == 0f;

    /// <summary>Greedy decoding of up to <paramref name="maxTokens"/> tokens.</summary>
    public static SamplingParams Greedy(int maxTokens) => new() { Temperature = 0f, MaxTokens = maxTokens };

    /// <summary>
    /// Checks every field against the ranges vLLM accepts and throws <see cref="ArgumentException"/> (or
    /// <see cref="ArgumentOutOfRangeException"/>) whose <c>ParamName</c> is the OpenAI/vLLM parameter name.
    /// </summary>
    /// <remarks>
    /// Follows vLLM rather than OpenAI where they differ: temperature has no upper bound (OpenAI caps it at 2),
    /// and any number of stop strings is allowed (OpenAI allows 4), but none may be empty.
    /// </remarks>
    public void Validate()
    {
        if (!(Temperature >= 0f) || float.IsInfinity(Temperature))
            throw OutOfRange("temperature", Temperature, "must be a finite number >= 0 (0 means greedy).");
        if (TopK < -1)
            throw OutOfRange("top_k", TopK, "must be -1 or 0 (disabled) or at least 1.");
        if (!(TopP > 0f && TopP <= 1f))
            throw OutOfRange("top_p", TopP, "must be in (0, 1].");
        if (!(MinP >= 0f && MinP <= 1f))
            throw OutOfRange("min_p", MinP, "must be in [0, 1].");
        if (!(RepetitionPenalty > 0f) || float.IsInfinity(RepetitionPenalty))
            throw OutOfRange("repetition_penalty", RepetitionPenalty, "must be a finite number > 0 (1 disables it).");
        if (!(PresencePenalty >= -2f && PresencePenalty <= 2f))
            throw OutOfRange("presence_penalty", PresencePenalty, "must be in [-2, 2].");
        if (!(FrequencyPenalty >= -2f && FrequencyPenalty <= 2f))
            throw OutOfRange("frequency_penalty", FrequencyPenalty, "must be in [-2, 2].");
        if (MaxTokens < 1)
            throw OutOfRange("max_tokens", MaxTokens, "must be at least 1.");
        if (MinTokens < 0)
            throw OutOfRange("min_tokens", MinTokens, "must be at least 0.");
        if (MinTokens > MaxTokens)
            throw OutOfRange("min_tokens", MinTokens, $"must not exceed max_tokens ({MaxTokens}).");
        if (N < 1)
            throw OutOfRange("n", N, "must be at least 1.");
        if (Logprobs is { } lp && (lp < 0 || lp > MaxLogprobs))
            throw OutOfRange("logprobs", lp, $"must be in [0, {MaxLogprobs}].");
        if (Stop is null)
            throw new ArgumentException("stop must be a list of strings, not null.", "stop");
        foreach (var s in Stop)
            if (string.IsNullOrEmpty(s))
                throw new ArgumentException("stop cannot contain an empty string.", "stop");
        if (StopTokenIds is null)
            throw new ArgumentException("stop_token_ids must be a list of token ids, not null.", "stop_token_ids");
        foreach (var id in StopTokenIds)
            if (id < 0)
                throw OutOfRange("stop_token_ids", id, "must contain only non-negative token ids.");
    }

    private static ArgumentOutOfRangeException OutOfRange(string name, object value, string rule) =>
        new(name, value, $"{name} {rule} Got {value}.");
}
