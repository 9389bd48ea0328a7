using System.Runtime.CompilerServices;
using System.Text;

namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>
/// Walks the statement tree, writing output. One instance per render: it carries the step and depth counters
/// that <see cref="RenderLimits"/> bounds. Expression evaluation is in <c>Interpreter.Expressions.cs</c>.
/// </summary>
internal sealed partial class Interpreter
{
    private enum Flow { Normal, Break, Continue }

    private long _steps;
    private int _callDepth;

    public string Render(IReadOnlyList<Node> nodes, Scope scope)
    {
        var sb = new StringBuilder();
        Execute(nodes, scope, sb);
        return sb.ToString();
    }

    internal string RenderMacroBody(IReadOnlyList<Node> body, Scope scope)
    {
        if (++_callDepth > RenderLimits.MaxCallDepth)
            throw new ChatTemplateException($"macro calls nested deeper than {RenderLimits.MaxCallDepth}");
        try
        {
            Step();
            var sb = new StringBuilder();
            Execute(body, scope, sb);
            return sb.ToString();
        }
        finally
        {
            _callDepth--;
        }
    }

    private void Step()
    {
        if (++_steps > RenderLimits.MaxSteps)
            throw new ChatTemplateException($"template ran more than {RenderLimits.MaxSteps} loop iterations and macro calls");
    }

    private static void Write(StringBuilder sb, string s)
    {
        if (sb.Length + (long)s.Length > RenderLimits.MaxLength)
            throw new ChatTemplateException($"template output exceeds {RenderLimits.MaxLength} characters");
        sb.Append(s);
    }

    private Flow Execute(IReadOnlyList<Node> nodes, Scope scope, StringBuilder sb)
    {
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw new ChatTemplateException("template nests too deeply for the thread's stack");
        foreach (var node in nodes)
        {
            Flow flow;
            try
            {
                flow = ExecuteNode(node, scope, sb);
            }
            catch (ChatTemplateException ex) when (ex.Line is null && !ex.RaisedByTemplate)
            {
                throw new ChatTemplateException(ex.Problem, node.Line, node.Column, ex);
            }
            catch (Exception ex) when (ex is InvalidCastException or OverflowException or ArgumentException or FormatException
                                           or IndexOutOfRangeException or KeyNotFoundException or NullReferenceException)
            {
                throw new ChatTemplateException(ex.Message, node.Line, node.Column, ex);
            }
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow ExecuteNode(Node node, Scope scope, StringBuilder sb)
    {
        switch (node)
        {
            case TextNode t:
                Write(sb, t.Text);
                return Flow.Normal;
            case OutputNode o:
                Write(sb, Values.ToStr(Evaluate(o.Value, scope)));
                return Flow.Normal;
            case IfNode i:
                foreach (var (condition, body) in i.Branches)
                    if (Values.IsTruthy(Evaluate(condition, scope)))
                        return Execute(body, scope, sb);
                return i.Else is null ? Flow.Normal : Execute(i.Else, scope, sb);
            case ForNode f:
                ExecuteFor(f, scope, sb);
                return Flow.Normal;
            case SetNode s:
                Assign(s.Target, Evaluate(s.Value, scope), scope);
                return Flow.Normal;
            case SetBlockNode sb2:
                Assign(sb2.Target, RenderBlock(sb2.Body, sb2.Filter, scope), scope);
                return Flow.Normal;
            case MacroNode m:
                scope.Set(m.Name, new Macro(m.Name, m.Params, m.Body, scope));
                return Flow.Normal;
            case CallBlockNode c:
                var caller = new Macro("caller", c.CallerParams, c.Body, scope);
                var args = EvaluateArgs(c.Call.Args, scope);
                args.Keywords["caller"] = caller;
                Write(sb, Values.ToStr(CallValue(Evaluate(c.Call.Callee, scope), args, c.Call.Callee)));
                return Flow.Normal;
            case FilterBlockNode fb:
                Write(sb, Values.ToStr(RenderBlock(fb.Body, fb.Filter, scope)));
                return Flow.Normal;
            case WithNode w:
                var values = w.Assignments.Select(a => Evaluate(a.Value, scope)).ToList();
                var withScope = new Scope(scope);
                for (int i = 0; i < values.Count; i++) withScope.Set(w.Assignments[i].Name, values[i]);
                return Execute(w.Body, withScope, sb);
            case BreakNode:
                return Flow.Break;
            case ContinueNode:
                return Flow.Continue;
            default:
                throw new ChatTemplateException($"unsupported node {node.GetType().Name}");
        }
    }

    private object? RenderBlock(IReadOnlyList<Node> body, Expr? filter, Scope scope)
    {
        var inner = new StringBuilder();
        Execute(body, scope, inner);
        string text = inner.ToString();
        if (filter is null) return text;
        var filterScope = new Scope(scope);
        filterScope.Set(TemplateParser.BlockBodyName, text);
        return Evaluate(filter, filterScope);
    }

    private void ExecuteFor(ForNode f, Scope scope, StringBuilder sb)
    {
        var source = Values.Iterate(Evaluate(f.Iterable, scope));
        List<object?> items;
        if (f.Filter is null)
        {
            items = source.ToList(); // a copy, so the loop is unaffected by what the body rebinds
        }
        else
        {
            items = new List<object?>();
            foreach (var item in source)
            {
                Step();
                var filterScope = new Scope(scope);
                BindLoopTargets(f.Targets, item, filterScope);
                if (Values.IsTruthy(Evaluate(f.Filter, filterScope))) items.Add(item);
            }
        }

        if (items.Count == 0)
        {
            if (f.Else is not null) Execute(f.Else, scope, sb);
            return;
        }

        var loop = new LoopContext(items);
        for (int i = 0; i < items.Count; i++)
        {
            Step();
            loop.Index0 = i;
            var body = new Scope(scope);
            BindLoopTargets(f.Targets, items[i], body);
            body.Set("loop", loop);
            if (Execute(f.Body, body, sb) == Flow.Break) break;
        }
    }

    private static void BindLoopTargets(IReadOnlyList<string> targets, object? item, Scope scope)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], item);
            return;
        }
        Unpack(targets, item, scope);
    }

    private static void Unpack(IReadOnlyList<string> names, object? value, Scope scope)
    {
        var items = value is string ? Values.StringElements((string)value) : Values.Iterate(value);
        if (items.Count != names.Count)
            throw new ChatTemplateException(items.Count > names.Count
                ? $"too many values to unpack (expected {names.Count})"
                : $"not enough values to unpack (expected {names.Count}, got {items.Count})");
        for (int i = 0; i < names.Count; i++) scope.Set(names[i], items[i]);
    }

    private static void Assign(SetTarget target, object? value, Scope scope)
    {
        if (target.Attribute is not null)
        {
            string name = target.Names[0];
            if (!scope.TryLookup(name, out var obj) || obj is not Namespace ns)
                throw new ChatTemplateException($"cannot assign attribute '{target.Attribute}' on '{name}': it is not a namespace");
            ns.Attributes[target.Attribute] = value;
            return;
        }
        if (target.Names.Count == 1) scope.Set(target.Names[0], value);
        else Unpack(target.Names, value, scope);
    }
}
