using Loom.Engine.Sampling;
using Loom.Server.Errors;

namespace Loom.Server.Protocol;

/// <summary>Turns request fields into the engine's <see cref="SamplingParams"/>, with OpenAI's defaults, and checks them.</summary>
internal static class SamplingMapper
{
    /// <summary>
    /// Builds and validates the parameters (a bad value throws an <see cref="ArgumentException"/> naming the parameter).
    /// <paramref name="maxTokens"/> is the already-resolved limit; <paramref name="logprobs"/> the number of alternatives or null.
    /// </summary>
    public static SamplingParams Map(SamplingRequest r, int maxTokens, int? logprobs)
    {
        var p = new SamplingParams
        {
            Temperature = r.Temperature ?? 1f,
            TopP = r.TopP ?? 1f,
            TopK = r.TopK ?? 0,
            MinP = r.MinP ?? 0f,
            N = r.N ?? 1,
            Stop = RequestReader.Stop(r.Stop),
            // OpenAI seeds are signed 64-bit; the engine's are unsigned: keep the bits.
            Seed = r.Seed is long s ? unchecked((ulong)s) : null,
            PresencePenalty = r.PresencePenalty ?? 0f,
            FrequencyPenalty = r.FrequencyPenalty ?? 0f,
            RepetitionPenalty = r.RepetitionPenalty ?? 1f,
            MaxTokens = maxTokens,
            MinTokens = r.MinTokens ?? 0,
            IgnoreEos = r.IgnoreEos ?? false,
            StopTokenIds = r.StopTokenIds ?? [],
            Logprobs = logprobs,
            Speculative = r.Speculative ?? true,
        };
        p.Validate();
        if (p.N > 128) throw new ArgumentOutOfRangeException("n", p.N, $"n must be at most 128. Got {p.N}.");
        return p;
    }

    /// <summary>
    /// The generation limit: the request's, or (when it gave none) <paramref name="defaultTokens"/> capped by the room left
    /// in the context. A prompt plus an explicit limit beyond the context is a 400.
    /// </summary>
    public static int MaxTokens(int? requested, string param, int? defaultTokens, int promptTokens, int contextLength)
    {
        if (promptTokens >= contextLength)
            throw OpenAiException.BadRequest(
                $"This model's maximum context length is {contextLength} tokens, but the prompt has {promptTokens} tokens.",
                "prompt", "context_length_exceeded");
        if (requested is not int n)
            return Math.Min(defaultTokens ?? int.MaxValue, contextLength - promptTokens);
        if (n < 1) throw new ArgumentOutOfRangeException(param, n, $"{param} must be at least 1. Got {n}.");
        if ((long)promptTokens + n > contextLength)
            throw OpenAiException.BadRequest(
                $"This model's maximum context length is {contextLength} tokens. However, you requested {(long)promptTokens + n} tokens " +
                $"({promptTokens} in the prompt, {n} for the completion). Reduce the prompt or {param}.",
                param, "context_length_exceeded");
        return n;
    }

    public static void CheckModel(string? model, ServingContext s)
    {
        if (model is not null && model != s.ServedModelName)
            throw new OpenAiException(System.Net.HttpStatusCode.NotFound,
                $"The model '{model}' does not exist; this server serves '{s.ServedModelName}'.", "invalid_request_error", "model", "model_not_found");
    }

    public static string Finish(Engine.FinishReason? r) => r switch
    {
        Engine.FinishReason.Stop => "stop",
        Engine.FinishReason.Length => "length",
        Engine.FinishReason.Abort => "abort",
        Engine.FinishReason.Error => "error",
        _ => "stop",
    };
}
