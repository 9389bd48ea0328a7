using System.Text.Json;

namespace Loom.Server.Protocol;

/// <summary>
/// Parameters shared by <c>/v1/completions</c> and <c>/v1/chat/completions</c>: OpenAI's, plus vLLM's extensions
/// (top_k, min_p, repetition_penalty, min_tokens, ignore_eos, stop_token_ids), and Loom's <c>speculative</c>.
/// Unknown fields are ignored.
/// </summary>
public abstract class SamplingRequest
{
    public string? Model { get; set; }
    public int? MaxTokens { get; set; }
    public float? Temperature { get; set; }
    public float? TopP { get; set; }
    public int? TopK { get; set; }
    public float? MinP { get; set; }
    public int? N { get; set; }
    /// <summary>A string or a list of strings.</summary>
    public JsonElement Stop { get; set; }
    public long? Seed { get; set; }
    public float? PresencePenalty { get; set; }
    public float? FrequencyPenalty { get; set; }
    public float? RepetitionPenalty { get; set; }
    public bool? Stream { get; set; }
    public StreamOptions? StreamOptions { get; set; }
    public int? MinTokens { get; set; }
    public bool? IgnoreEos { get; set; }
    public List<int>? StopTokenIds { get; set; }
    /// <summary>false opts this request out of speculative decoding when the server speculates (its output is the same either way).</summary>
    public bool? Speculative { get; set; }
    public string? User { get; set; }

    /// <summary>OpenAI structured output: <c>{"type":"text"}</c>, <c>{"type":"json_object"}</c> or <c>{"type":"json_schema","json_schema":{"name","schema","strict"}}</c>.</summary>
    public JsonElement ResponseFormat { get; set; }
    /// <summary>vLLM: a JSON schema (an object, or a string holding one) the output must satisfy.</summary>
    public JsonElement GuidedJson { get; set; }
    /// <summary>vLLM: a regular expression the whole output must match.</summary>
    public JsonElement GuidedRegex { get; set; }
    /// <summary>vLLM: the output must be one of these strings.</summary>
    public JsonElement GuidedChoice { get; set; }
    /// <summary>vLLM: a GBNF grammar (llama.cpp's syntax) the output must match.</summary>
    public JsonElement GuidedGrammar { get; set; }
    /// <summary>llama.cpp server: a GBNF grammar.</summary>
    public JsonElement Grammar { get; set; }
    /// <summary>llama.cpp server: a JSON schema.</summary>
    public JsonElement JsonSchema { get; set; }
}

/// <summary><c>stream_options</c>: <c>include_usage</c> adds a last chunk with the token counts.</summary>
public sealed class StreamOptions
{
    public bool? IncludeUsage { get; set; }
}
