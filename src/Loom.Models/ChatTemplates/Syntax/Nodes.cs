
namespace Loom.Models.ChatTemplates.Syntax;

/// <summary>A statement node of the template body.</summary>
internal abstract record Node(int Line, int Column);

internal sealed record TextNode(string Text, int Line, int Column) : Node(Line, Column);

internal sealed record OutputNode(Expr Value, int Line, int Column) : Node(Line, Column);

internal sealed record IfNode(IReadOnlyList<(Expr Condition, IReadOnlyList<Node> Body)> Branches, IReadOnlyList<Node>? Else, int Line, int Column)
    : Node(Line, Column);

internal sealed record ForNode(IReadOnlyList<string> Targets, Expr Iterable, Expr? Filter, IReadOnlyList<Node> Body, IReadOnlyList<Node>? Else,
    int Line, int Column) : Node(Line, Column);

/// <summary>Where a <c>set</c> stores: plain names (several for unpacking) or <c>ns.attr</c>.</summary>
internal sealed record SetTarget(IReadOnlyList<string> Names, string? Attribute);

internal sealed record SetNode(SetTarget Target, Expr Value, int Line, int Column) : Node(Line, Column);

/// <summary><c>{% set x | filters %}body{% endset %}</c>; the filters are applied to a placeholder name.</summary>
internal sealed record SetBlockNode(SetTarget Target, IReadOnlyList<Node> Body, Expr? Filter, int Line, int Column) : Node(Line, Column);

internal sealed record MacroParam(string Name, Expr? Default);

internal sealed record MacroNode(string Name, IReadOnlyList<MacroParam> Params, IReadOnlyList<Node> Body, int Line, int Column) : Node(Line, Column);

/// <summary><c>{% call(params) macro(args) %}body{% endcall %}</c>: the body becomes <c>caller()</c>.</summary>
internal sealed record CallBlockNode(CallExpr Call, IReadOnlyList<MacroParam> CallerParams, IReadOnlyList<Node> Body, int Line, int Column)
    : Node(Line, Column);

/// <summary><c>{% filter f %}body{% endfilter %}</c>; <see cref="Filter"/> wraps a placeholder name.</summary>
internal sealed record FilterBlockNode(Expr Filter, IReadOnlyList<Node> Body, int Line, int Column) : Node(Line, Column);

/// <summary><c>{% with a = x, b = y %}body{% endwith %}</c>: the values are evaluated outside, the names set in a frame of the body's own.</summary>
internal sealed record WithNode(IReadOnlyList<(string Name, Expr Value)> Assignments, IReadOnlyList<Node> Body, int Line, int Column) : Node(Line, Column);

internal sealed record BreakNode(int Line, int Column) : Node(Line, Column);

internal sealed record ContinueNode(int Line, int Column) : Node(Line, Column);
