
namespace Loom.Models.ChatTemplates.Lexing;

internal enum TokenKind
{
    Text,
    OutputBegin,
    OutputEnd,
    StatementBegin,
    StatementEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

/// <summary>A lexical token; <see cref="Value"/> holds the text, string contents, or operator spelling.</summary>
internal readonly record struct Token(TokenKind Kind, string Value, int Line, int Column)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;

    public bool IsOp(string op) => Kind == TokenKind.Operator && Value == op;

    public bool IsName(string name) => Kind == TokenKind.Name && Value == name;

    public override string ToString() => Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.OutputEnd => "'}}'",
        TokenKind.StatementEnd => "'%}'",
        TokenKind.String => $"string '{Value}'",
        _ => $"'{Value}'",
    };
}
