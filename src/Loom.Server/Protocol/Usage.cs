namespace Loom.Server.Protocol;

/// <summary>Token counts of a request: every prompt once, every choice's generated tokens.</summary>
public sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens, PromptTokensDetails? PromptTokensDetails = null, SpeculativeUsage? Speculative = null);

/// <summary>Speculative decoding's share of the completion (present when draft tokens were verified for the request).</summary>
public sealed record SpeculativeUsage(int DraftTokens, int AcceptedTokens, double AcceptanceRate);

/// <summary>How many prompt tokens came from the prefix cache.</summary>
public sealed record PromptTokensDetails(int CachedTokens);
