using System.Globalization;

namespace Loom.Models.ChatTemplates.Syntax;

/// <summary>Expression grammar, with Jinja's precedence from loosest to tightest.</summary>
internal sealed partial class TemplateParser
{
    private Expr ParseExpression() => ParseConditional(allowIf: true);

    /// <summary><c>a, b</c> without brackets is a tuple (used by <c>set</c>).</summary>
    private Expr ParseTupleOrExpression()
    {
        var start = Current;
        var first = ParseExpression();
        if (!Current.IsOp(",")) return first;
        var items = new List<Expr> { first };
        while (Current.IsOp(","))
        {
            Next();
            if (Current.Kind == TokenKind.StatementEnd) break;
            items.Add(ParseExpression());
        }
        return new ListExpr(items, true, start.Line, start.Column);
    }

    private Expr ParseConditional(bool allowIf)
    {
        var start = Current;
        Enter(start);
        try
        {
            // The branch before "if" is parsed before it is known to be conditional, so an unknown filter or test in it
            // waits in _pending until the "if" shows (then, as in Jinja, the whole conditional is soft) or does not.
            int mark = _pending.Count;
            _tentative++;
            Expr expr;
            try { expr = ParseOr(); }
            finally { _tentative--; }
            if (allowIf && Current.IsName("if"))
            {
                _pending.RemoveRange(mark, _pending.Count - mark);
                bool wasSoft = _soft;
                _soft = true;
                try
                {
                    while (Current.IsName("if"))
                    {
                        Next();
                        var condition = ParseOr();
                        Expr? otherwise = null;
                        if (Current.IsName("else"))
                        {
                            Next();
                            otherwise = ParseConditional(true);
                        }
                        expr = new ConditionalExpr(condition, expr, otherwise, start.Line, start.Column);
                    }
                }
                finally
                {
                    _soft = wasSoft;
                }
            }
            if (_tentative == 0 && _pending.Count > mark) throw ErrorAt(_pending[mark].At, _pending[mark].Message);
            return expr;
        }
        finally
        {
            Leave();
        }
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var op = Next();
            left = new BinaryExpr("or", left, ParseAnd(), op.Line, op.Column);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var op = Next();
            left = new BinaryExpr("and", left, ParseNot(), op.Line, op.Column);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (!Current.IsName("not")) return ParseCompare();
        var op = Next();
        Enter(op);
        try { return new UnaryExpr("not", ParseNot(), op.Line, op.Column); }
        finally { Leave(); }
    }

    private static readonly HashSet<string> CompareOps = new() { "==", "!=", "<", "<=", ">", ">=" };

    private Expr ParseCompare()
    {
        var left = ParseMath1();
        while (true)
        {
            var t = Current;
            string op;
            if (t.Kind == TokenKind.Operator && CompareOps.Contains(t.Value)) { op = t.Value; Next(); }
            else if (t.IsName("in")) { op = "in"; Next(); }
            else if (t.IsName("not") && Peek().IsName("in")) { op = "not in"; Next(); Next(); }
            else return left;
            // Chained comparisons (a < b < c) are rare in templates; treating them left-associatively is close enough.
            left = new BinaryExpr(op, left, ParseMath1(), t.Line, t.Column);
        }
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.IsOp("+") || Current.IsOp("-"))
        {
            var op = Next();
            left = new BinaryExpr(op.Value, left, ParseConcat(), op.Line, op.Column);
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        while (Current.IsOp("~"))
        {
            var op = Next();
            left = new BinaryExpr("~", left, ParseMath2(), op.Line, op.Column);
        }
        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.IsOp("*") || Current.IsOp("/") || Current.IsOp("//") || Current.IsOp("%"))
        {
            var op = Next();
            left = new BinaryExpr(op.Value, left, ParsePow(), op.Line, op.Column);
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary(withFilter: true);
        while (Current.IsOp("**"))
        {
            var op = Next();
            left = new BinaryExpr("**", left, ParseUnary(withFilter: true), op.Line, op.Column);
        }
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        var t = Current;
        Expr node;
        if (t.IsOp("-") || t.IsOp("+"))
        {
            Next();
            Enter(t);
            try { node = new UnaryExpr(t.Value, ParseUnary(withFilter: false), t.Line, t.Column); }
            finally { Leave(); }
        }
        else
        {
            node = ParsePrimary();
        }
        node = ParsePostfix(node);
        return withFilter ? ParseFilterAndTests(node) : node;
    }

    private Expr ParsePrimary()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, t.Line, t.Column),
                    "false" or "False" => new LiteralExpr(false, t.Line, t.Column),
                    "none" or "None" => new LiteralExpr(null, t.Line, t.Column),
                    _ => new NameExpr(t.Value, t.Line, t.Column),
                };
            case TokenKind.String:
                string s = t.Value;
                while (Current.Kind == TokenKind.String) s += Next().Value; // adjacent literals concatenate
                return new LiteralExpr(s, t.Line, t.Column);
            case TokenKind.Integer:
                return new LiteralExpr(long.Parse(t.Value, CultureInfo.InvariantCulture), t.Line, t.Column);
            case TokenKind.Float:
                return new LiteralExpr(double.Parse(t.Value, CultureInfo.InvariantCulture), t.Line, t.Column);
            case TokenKind.Operator when t.Value == "(":
                return ParseParenthesized(t);
            case TokenKind.Operator when t.Value == "[":
                return new ListExpr(ParseSequence("]"), false, t.Line, t.Column);
            case TokenKind.Operator when t.Value == "{":
                return ParseDict(t);
            default:
                throw ErrorAt(t, $"unexpected {t}");
        }
    }

    private Expr ParseParenthesized(Token open)
    {
        Enter(open);
        try
        {
            if (Current.IsOp(")"))
            {
                Next();
                return new ListExpr(Array.Empty<Expr>(), true, open.Line, open.Column);
            }
            var first = ParseExpression();
            if (Current.IsOp(")"))
            {
                Next();
                return first;
            }
            var items = new List<Expr> { first };
            while (Current.IsOp(","))
            {
                Next();
                if (Current.IsOp(")")) break;
                items.Add(ParseExpression());
            }
            ExpectOp(")");
            return new ListExpr(items, true, open.Line, open.Column);
        }
        finally
        {
            Leave();
        }
    }

    private List<Expr> ParseSequence(string close)
    {
        var items = new List<Expr>();
        while (!Current.IsOp(close))
        {
            if (items.Count > 0) ExpectOp(",");
            if (Current.IsOp(close)) break;
            items.Add(ParseExpression());
        }
        Next();
        return items;
    }

    private DictExpr ParseDict(Token open)
    {
        var entries = new List<(Expr, Expr)>();
        while (!Current.IsOp("}"))
        {
            if (entries.Count > 0) ExpectOp(",");
            if (Current.IsOp("}")) break;
            var key = ParseExpression();
            ExpectOp(":");
            entries.Add((key, ParseExpression()));
        }
        Next();
        return new DictExpr(entries, open.Line, open.Column);
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var t = Current;
            if (t.IsOp("."))
            {
                Next();
                var name = Next();
                if (name.Kind == TokenKind.Name) node = new AttrExpr(node, name.Value, t.Line, t.Column);
                else if (name.Kind == TokenKind.Integer)
                    node = new ItemExpr(node, new LiteralExpr(long.Parse(name.Value, CultureInfo.InvariantCulture), name.Line, name.Column), t.Line, t.Column);
                else throw ErrorAt(name, $"expected an attribute name, found {name}");
            }
            else if (t.IsOp("["))
            {
                Next();
                node = ParseSubscript(node, t);
            }
            else if (t.IsOp("("))
            {
                Next();
                node = new CallExpr(node, ParseArgs(), t.Line, t.Column);
            }
            else
            {
                return node;
            }
        }
    }

    private Expr ParseSubscript(Expr target, Token open)
    {
        Enter(open);
        try
        {
            Expr? start = null, stop = null, step = null;
            if (!Current.IsOp(":")) start = ParseExpression();
            if (!Current.IsOp(":"))
            {
                ExpectOp("]");
                return new ItemExpr(target, start!, open.Line, open.Column);
            }
            Next();
            if (!Current.IsOp(":") && !Current.IsOp("]")) stop = ParseExpression();
            if (Current.IsOp(":"))
            {
                Next();
                if (!Current.IsOp("]")) step = ParseExpression();
            }
            ExpectOp("]");
            return new SliceExpr(target, start, stop, step, open.Line, open.Column);
        }
        finally
        {
            Leave();
        }
    }

    /// <summary>Arguments after an opening parenthesis, through the closing one.</summary>
    private ArgList ParseArgs()
    {
        var positional = new List<Expr>();
        var keywords = new List<(string, Expr)>();
        while (!Current.IsOp(")"))
        {
            if (positional.Count + keywords.Count > 0) ExpectOp(",");
            if (Current.IsOp(")")) break;
            if (Current.Kind == TokenKind.Name && Peek().IsOp("="))
            {
                string name = Next().Value;
                Next();
                keywords.Add((name, ParseExpression()));
            }
            else
            {
                if (keywords.Count > 0) throw ErrorAt(Current, "positional argument follows keyword argument");
                positional.Add(ParseExpression());
            }
        }
        Next();
        return new ArgList(positional, keywords);
    }

    private Expr ParseFilterAndTests(Expr node)
    {
        while (true)
        {
            if (Current.IsOp("|"))
            {
                node = ParseFilterChain(node);
            }
            else if (Current.IsName("is"))
            {
                var t = Next();
                bool negated = false;
                if (Current.IsName("not"))
                {
                    Next();
                    negated = true;
                }
                var nameToken = Expect(TokenKind.Name, "a test name");
                string name = nameToken.Value;
                // Like Jinja, an unknown test is a template error even if the expression never runs, except under an
                // if (a soft frame), where it fails only when evaluated.
                if (!Tests.Exists(name)) Unknown(nameToken, $"no test named '{name}'");
                ArgList args = ArgList.Empty;
                if (Current.IsOp("("))
                {
                    Next();
                    args = ParseArgs();
                }
                else if (Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                         || Current.IsOp("(") || Current.IsOp("[") || Current.IsOp("{"))
                {
                    if (!(Current.IsName("else") || Current.IsName("or") || Current.IsName("and") || Current.IsName("if")))
                        args = new ArgList(new[] { ParsePostfix(ParsePrimary()) }, Array.Empty<(string, Expr)>());
                }
                node = new TestExpr(node, name, args, negated, t.Line, t.Column);
            }
            else
            {
                return node;
            }
        }
    }

    /// <summary>
    /// An unknown filter or test: Jinja refuses the template unless it sits under an <c>if</c> (statement or expression),
    /// where it fails only if it runs; the interpreter's lookup raises the same error then.
    /// </summary>
    private void Unknown(Token at, string message)
    {
        if (_soft) return;
        if (_tentative > 0) _pending.Add((at, message));
        else throw ErrorAt(at, message);
    }

    /// <summary>One or more <c>| name(args)</c> applied to <paramref name="target"/>.</summary>
    private Expr ParseFilterChain(Expr target, bool leadingBar = true)
    {
        bool first = true;
        while ((first && !leadingBar) || Current.IsOp("|"))
        {
            if (!(first && !leadingBar)) Next();
            first = false;
            var nameToken = Expect(TokenKind.Name, "a filter name");
            string name = nameToken.Value;
            while (Current.IsOp(".") && Peek().Kind == TokenKind.Name)
            {
                Next();
                name += "." + Next().Value;
            }
            if (!Filters.Exists(name)) Unknown(nameToken, $"no filter named '{name}'");
            ArgList args = ArgList.Empty;
            if (Current.IsOp("("))
            {
                Next();
                args = ParseArgs();
            }
            target = new FilterExpr(target, name, args, nameToken.Line, nameToken.Column);
        }
        return target;
    }
}
