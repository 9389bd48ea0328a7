using System.Runtime.CompilerServices;

namespace Loom.Models.ChatTemplates.Syntax;

/// <summary>
/// Recursive-descent parser from tokens to statement nodes. Expression parsing lives in
/// <c>TemplateParser.Expressions.cs</c>; both share the token cursor here.
/// </summary>
internal sealed partial class TemplateParser
{
    /// <summary>Name the block filters are applied to; not a valid identifier, so templates cannot shadow it.</summary>
    internal const string BlockBodyName = "\0body";

    private const int MaxNesting = 200;

    private readonly List<Token> _tokens;
    private int _pos;
    private int _depth;

    /// <summary>Inside an <c>if</c> (Jinja's soft frame): unknown filters and tests fail only when run. Loops, macros and blocks reset it.</summary>
    private bool _soft;
    /// <summary>How many conditional expressions are parsing the branch before their (possible) <c>if</c>.</summary>
    private int _tentative;
    /// <summary>Unknown filters and tests met while tentative, decided when their conditional's shape is known.</summary>
    private readonly List<(Token At, string Message)> _pending = [];

    private TemplateParser(List<Token> tokens) => _tokens = tokens;

    public static IReadOnlyList<Node> Parse(string source)
    {
        var parser = new TemplateParser(TemplateLexer.Tokenize(source));
        var body = parser.ParseBody(out var endTag);
        if (endTag is not null)
            throw ErrorAt(parser.Previous(), $"unexpected '{endTag}'");
        return body;
    }

    private Token Current => _tokens[_pos];

    private Token Peek(int ahead = 1) => _tokens[Math.Min(_pos + ahead, _tokens.Count - 1)];

    private Token Previous() => _tokens[Math.Max(0, _pos - 1)];

    private Token Next() => _tokens[_pos < _tokens.Count - 1 ? _pos++ : _pos];

    private static ChatTemplateException ErrorAt(Token t, string message) => new(message, t.Line, t.Column);

    private Token Expect(TokenKind kind, string what)
    {
        if (Current.Kind != kind) throw ErrorAt(Current, $"expected {what}, found {Current}");
        return Next();
    }

    private void ExpectOp(string op)
    {
        if (!Current.IsOp(op)) throw ErrorAt(Current, $"expected '{op}', found {Current}");
        Next();
    }

    private string ExpectName() => Expect(TokenKind.Name, "a name").Value;

    private void ExpectStatementEnd() => Expect(TokenKind.StatementEnd, "'%}'");

    private void Enter(Token at)
    {
        if (++_depth > MaxNesting || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw ErrorAt(at, "template is nested too deeply");
    }

    private void Leave() => _depth--;

    /// <summary>
    /// Parses nodes until end of input or a statement whose keyword is one of <paramref name="endTags"/>.
    /// On return the cursor sits just after that keyword; <paramref name="endTag"/> says which one (null at end).
    /// </summary>
    /// <summary>A body Jinja compiles in a frame of its own (loops, macros, blocks), where the enclosing <c>if</c>'s softness ends.</summary>
    private List<Node> ParseHardBody(out string? endTag, params string[] endTags)
    {
        bool wasSoft = _soft;
        _soft = false;
        try { return ParseBody(out endTag, endTags); }
        finally { _soft = wasSoft; }
    }

    private List<Node> ParseBody(out string? endTag, params string[] endTags)
    {
        var nodes = new List<Node>();
        while (true)
        {
            var t = Current;
            switch (t.Kind)
            {
                case TokenKind.End:
                    if (endTags.Length > 0) throw ErrorAt(t, $"unexpected end of template, expected '{string.Join("' or '", endTags)}'");
                    endTag = null;
                    return nodes;
                case TokenKind.Text:
                    nodes.Add(new TextNode(t.Value, t.Line, t.Column));
                    Next();
                    break;
                case TokenKind.OutputBegin:
                    Next();
                    nodes.Add(new OutputNode(ParseExpression(), t.Line, t.Column));
                    Expect(TokenKind.OutputEnd, "'}}'");
                    break;
                case TokenKind.StatementBegin:
                    Next();
                    var keyword = Current;
                    if (keyword.Kind != TokenKind.Name) throw ErrorAt(keyword, $"expected a statement keyword, found {keyword}");
                    if (Array.IndexOf(endTags, keyword.Value) >= 0)
                    {
                        Next();
                        endTag = keyword.Value;
                        return nodes;
                    }
                    var node = ParseStatement(keyword);
                    if (node is not null) nodes.Add(node);
                    break;
                default:
                    throw ErrorAt(t, $"unexpected {t}");
            }
        }
    }

    private Node? ParseStatement(Token keyword)
    {
        Enter(keyword);
        try
        {
            Next();
            switch (keyword.Value)
            {
                case "if": return ParseIf(keyword);
                case "for": return ParseFor(keyword);
                case "set": return ParseSet(keyword);
                case "macro": return ParseMacro(keyword);
                case "call": return ParseCallBlock(keyword);
                case "filter": return ParseFilterBlock(keyword);
                case "with": return ParseWith(keyword);
                case "break":
                    ExpectStatementEnd();
                    return new BreakNode(keyword.Line, keyword.Column);
                case "continue":
                    ExpectStatementEnd();
                    return new ContinueNode(keyword.Line, keyword.Column);
                case "generation":
                    // Hugging Face's assistant-mask marker: renders its body unchanged.
                    ExpectStatementEnd();
                    var body = ParseBody(out _, "endgeneration");
                    ExpectStatementEnd();
                    return new IfNode(new[] { ((Expr)new LiteralExpr(true, keyword.Line, keyword.Column), (IReadOnlyList<Node>)body) }, null,
                        keyword.Line, keyword.Column);
                default:
                    throw ErrorAt(keyword, $"unknown statement '{keyword.Value}'");
            }
        }
        finally
        {
            Leave();
        }
    }

    private IfNode ParseIf(Token keyword)
    {
        bool wasSoft = _soft;
        _soft = true;
        try { return ParseIfBranches(keyword); }
        finally { _soft = wasSoft; }
    }

    private IfNode ParseIfBranches(Token keyword)
    {
        var branches = new List<(Expr, IReadOnlyList<Node>)>();
        List<Node>? elseBody = null;
        var condition = ParseExpression();
        while (true)
        {
            ExpectStatementEnd();
            var body = ParseBody(out var end, "elif", "else", "endif");
            branches.Add((condition, body));
            if (end == "elif")
            {
                condition = ParseExpression();
                continue;
            }
            if (end == "else")
            {
                ExpectStatementEnd();
                elseBody = ParseBody(out _, "endif");
            }
            ExpectStatementEnd();
            return new IfNode(branches, elseBody, keyword.Line, keyword.Column);
        }
    }

    private ForNode ParseFor(Token keyword)
    {
        var targets = new List<string> { ExpectName() };
        while (Current.IsOp(","))
        {
            Next();
            targets.Add(ExpectName());
        }
        if (!Current.IsName("in")) throw ErrorAt(Current, $"expected 'in', found {Current}");
        Next();
        var iterable = ParseConditional(allowIf: false);
        Expr? filter = null;
        if (Current.IsName("if"))
        {
            Next();
            filter = ParseExpression();
        }
        if (Current.IsName("recursive")) throw ErrorAt(Current, "recursive loops are not supported");
        ExpectStatementEnd();
        var body = ParseHardBody(out var end, "else", "endfor");
        List<Node>? elseBody = null;
        if (end == "else")
        {
            ExpectStatementEnd();
            elseBody = ParseHardBody(out _, "endfor");
        }
        ExpectStatementEnd();
        return new ForNode(targets, iterable, filter, body, elseBody, keyword.Line, keyword.Column);
    }

    private Node ParseSet(Token keyword)
    {
        string first = ExpectName();
        SetTarget target;
        if (Current.IsOp("."))
        {
            Next();
            target = new SetTarget(new[] { first }, ExpectName());
        }
        else
        {
            var names = new List<string> { first };
            while (Current.IsOp(","))
            {
                Next();
                names.Add(ExpectName());
            }
            target = new SetTarget(names, null);
        }

        if (Current.IsOp("="))
        {
            Next();
            var value = ParseTupleOrExpression();
            ExpectStatementEnd();
            return new SetNode(target, value, keyword.Line, keyword.Column);
        }

        Expr? filter = Current.IsOp("|") ? ParseFilterChain(new NameExpr(BlockBodyName, keyword.Line, keyword.Column)) : null;
        ExpectStatementEnd();
        var body = ParseHardBody(out _, "endset");
        ExpectStatementEnd();
        return new SetBlockNode(target, body, filter, keyword.Line, keyword.Column);
    }

    private MacroNode ParseMacro(Token keyword)
    {
        string name = ExpectName();
        var parameters = ParseParams();
        ExpectStatementEnd();
        var body = ParseHardBody(out _, "endmacro");
        ExpectStatementEnd();
        return new MacroNode(name, parameters, body, keyword.Line, keyword.Column);
    }

    private List<MacroParam> ParseParams()
    {
        var parameters = new List<MacroParam>();
        ExpectOp("(");
        while (!Current.IsOp(")"))
        {
            if (parameters.Count > 0) ExpectOp(",");
            if (Current.IsOp(")")) break;
            string name = ExpectName();
            Expr? def = null;
            if (Current.IsOp("="))
            {
                Next();
                def = ParseExpression();
            }
            parameters.Add(new MacroParam(name, def));
        }
        Next();
        return parameters;
    }

    private CallBlockNode ParseCallBlock(Token keyword)
    {
        var callerParams = Current.IsOp("(") ? ParseParams() : new List<MacroParam>();
        var call = ParseExpression();
        if (call is not CallExpr callExpr) throw ErrorAt(keyword, "expected a call after 'call'");
        ExpectStatementEnd();
        var body = ParseHardBody(out _, "endcall");
        ExpectStatementEnd();
        return new CallBlockNode(callExpr, callerParams, body, keyword.Line, keyword.Column);
    }

    private FilterBlockNode ParseFilterBlock(Token keyword)
    {
        // Jinja compiles a filter block in a frame of its own, so its filters must exist even under an if.
        bool wasSoft = _soft;
        _soft = false;
        Expr filter;
        try { filter = ParseFilterChain(new NameExpr(BlockBodyName, keyword.Line, keyword.Column), leadingBar: false); }
        finally { _soft = wasSoft; }
        ExpectStatementEnd();
        var body = ParseHardBody(out _, "endfilter");
        ExpectStatementEnd();
        return new FilterBlockNode(filter, body, keyword.Line, keyword.Column);
    }

    private WithNode ParseWith(Token keyword)
    {
        var assignments = new List<(string, Expr)>();
        while (Current.Kind != TokenKind.StatementEnd)
        {
            if (assignments.Count > 0) ExpectOp(",");
            string name = ExpectName();
            ExpectOp("=");
            assignments.Add((name, ParseExpression()));
        }
        ExpectStatementEnd();
        var body = ParseHardBody(out _, "endwith");
        ExpectStatementEnd();
        return new WithNode(assignments, body, keyword.Line, keyword.Column);
    }
}
