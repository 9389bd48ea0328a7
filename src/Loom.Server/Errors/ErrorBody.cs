namespace Loom.Server.Errors;

/// <summary>The error response body OpenAI clients parse.</summary>
public sealed record ErrorBody(ErrorDetail Error);

/// <summary>What went wrong: a message for people, a type and code for programs, and the parameter at fault.</summary>
public sealed record ErrorDetail(string Message, string Type, string? Param, string? Code);
