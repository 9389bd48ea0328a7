using System.Text.Json.Serialization;
using Loom.Server.Errors;

namespace Loom.Server.Protocol;

/// <summary>
/// Source-generated JSON for every request and response: snake_case names as OpenAI spells them, nulls left out,
/// and numbers given as strings refused (a wrong type is a 400, not a guess).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = false,
    AllowTrailingCommas = false,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(CompletionRequest))]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(TokenizeRequest))]
[JsonSerializable(typeof(DetokenizeRequest))]
[JsonSerializable(typeof(CompletionResponse))]
[JsonSerializable(typeof(ChatCompletionResponse))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(TokenizeResponse))]
[JsonSerializable(typeof(DetokenizeResponse))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ModelCard))]
[JsonSerializable(typeof(HealthStatus))]
[JsonSerializable(typeof(ErrorBody))]
internal sealed partial class LoomJsonContext : JsonSerializerContext;
