using System.Text.Json;

namespace Loom.Server.Protocol;

/// <summary>Body of <c>POST /v1/completions</c>.</summary>
public sealed class CompletionRequest : SamplingRequest
{
    /// <summary>A string, a token array, or a list of either.</summary>
    public JsonElement Prompt { get; set; }
    /// <summary>Top alternatives per token (0..20); null for none.</summary>
    public int? Logprobs { get; set; }
    public bool? Echo { get; set; }
}
