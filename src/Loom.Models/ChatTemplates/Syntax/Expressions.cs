
namespace Loom.Models.ChatTemplates.Syntax;

/// <summary>An expression node; <see cref="Line"/>/<see cref="Column"/> locate it for runtime errors.</summary>
internal abstract record Expr(int Line, int Column);

internal sealed record LiteralExpr(object? Value, int Line, int Column) : Expr(Line, Column);

internal sealed record NameExpr(string Name, int Line, int Column) : Expr(Line, Column);

internal sealed record ListExpr(IReadOnlyList<Expr> Items, bool IsTuple, int Line, int Column) : Expr(Line, Column);

internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Entries, int Line, int Column) : Expr(Line, Column);

/// <summary><c>obj.name</c>: attribute first, then item (Jinja's <c>getattr</c>).</summary>
internal sealed record AttrExpr(Expr Target, string Name, int Line, int Column) : Expr(Line, Column);

/// <summary><c>obj[key]</c>: item first, then attribute (Jinja's <c>getitem</c>).</summary>
internal sealed record ItemExpr(Expr Target, Expr Key, int Line, int Column) : Expr(Line, Column);

internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Line, int Column) : Expr(Line, Column);

/// <summary>Positional and keyword arguments of a call, filter, or test.</summary>
internal sealed record ArgList(IReadOnlyList<Expr> Positional, IReadOnlyList<(string Name, Expr Value)> Keywords)
{
    public static readonly ArgList Empty = new(Array.Empty<Expr>(), Array.Empty<(string, Expr)>());
}

internal sealed record CallExpr(Expr Callee, ArgList Args, int Line, int Column) : Expr(Line, Column);

internal sealed record FilterExpr(Expr Target, string Name, ArgList Args, int Line, int Column) : Expr(Line, Column);

internal sealed record TestExpr(Expr Target, string Name, ArgList Args, bool Negated, int Line, int Column) : Expr(Line, Column);

internal sealed record UnaryExpr(string Op, Expr Operand, int Line, int Column) : Expr(Line, Column);

/// <summary>Arithmetic, <c>~</c>, <c>and</c>/<c>or</c>, comparisons, <c>in</c> and <c>not in</c>.</summary>
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line, int Column) : Expr(Line, Column);

internal sealed record ConditionalExpr(Expr Condition, Expr Then, Expr? Else, int Line, int Column) : Expr(Line, Column);
