namespace Loom.Server.Protocol;

/// <summary>Body of <c>POST /tokenize</c> (vLLM's shape): a prompt, or messages rendered by the chat template.</summary>
public sealed class TokenizeRequest
{
    public string? Model { get; set; }
    public string? Prompt { get; set; }
    public List<ChatMessageDto>? Messages { get; set; }
    public bool? AddSpecialTokens { get; set; }
    public bool? AddGenerationPrompt { get; set; }
}

public sealed record TokenizeResponse(int Count, int MaxModelLen, int[] Tokens);

/// <summary>Body of <c>POST /detokenize</c>.</summary>
public sealed class DetokenizeRequest
{
    public string? Model { get; set; }
    public List<int>? Tokens { get; set; }
}

public sealed record DetokenizeResponse(string Prompt);

