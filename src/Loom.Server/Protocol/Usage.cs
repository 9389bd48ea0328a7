namespace Loom.Server.Protocol;

/// <summary>Token counts of a request: every prompt once, every choice's generated tokens.</summary>
public sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens, PromptTokensDetails? PromptTokensDetails = null);

/// <summary>How many prompt tokens came from the prefix cache.</summary>
public sealed record PromptTokensDetails(int CachedTokens);
