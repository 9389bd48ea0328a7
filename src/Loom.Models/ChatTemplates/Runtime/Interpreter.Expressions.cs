using System.Runtime.CompilerServices;

namespace Loom.Models.ChatTemplates.Runtime;

internal sealed partial class Interpreter
{
    private int _evalDepth;

    public object? Evaluate(Expr expr, Scope scope)
    {
        // Long operator chains (a + a + ... ) parse iteratively but evaluate recursively; bound the recursion.
        if (++_evalDepth > RenderLimits.MaxEvaluationDepth || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            _evalDepth--;
            throw new ChatTemplateException($"expression nested deeper than {RenderLimits.MaxEvaluationDepth} or too deep for the thread's stack");
        }
        try
        {
            return EvaluateCore(expr, scope);
        }
        finally
        {
            _evalDepth--;
        }
    }

    private object? EvaluateCore(Expr expr, Scope scope)
    {
        switch (expr)
        {
            case LiteralExpr l:
                return l.Value;
            case NameExpr n:
                return scope.TryLookup(n.Name, out var v) ? v : new Undefined(n.Name);
            case ListExpr list:
            {
                var result = list.IsTuple ? new PyTuple() : new List<object?>(list.Items.Count);
                foreach (var item in list.Items) result.Add(Evaluate(item, scope));
                return result;
            }
            case DictExpr dict:
            {
                var result = new PyDict();
                foreach (var (k, val) in dict.Entries)
                    result[PyDict.Key(Evaluate(k, scope))] = Evaluate(val, scope);
                return result;
            }
            case AttrExpr a:
                return GetAttribute(Evaluate(a.Target, scope), a.Name);
            case ItemExpr i:
                return GetItem(Evaluate(i.Target, scope), Evaluate(i.Key, scope));
            case SliceExpr s:
                return Slicing.Slice(Evaluate(s.Target, scope), EvalOptional(s.Start, scope), EvalOptional(s.Stop, scope), EvalOptional(s.Step, scope));
            case CallExpr c:
                return EvaluateCall(c, scope);
            case FilterExpr f:
                return Filters.Apply(this, f.Name, Evaluate(f.Target, scope), EvaluateArgs(f.Args, scope));
            case TestExpr t:
            {
                bool r = Tests.Apply(this, t.Name, Evaluate(t.Target, scope), EvaluateArgs(t.Args, scope));
                return t.Negated ? !r : r;
            }
            case UnaryExpr u:
            {
                var operand = Evaluate(u.Operand, scope);
                return u.Op switch
                {
                    "not" => !Values.IsTruthy(operand),
                    "-" => Operators.Negate(operand),
                    _ => Values.IsNumber(operand) ? operand is bool b ? (b ? 1L : 0L) : operand
                        : throw new ChatTemplateException($"bad operand type for unary +: '{Values.TypeName(operand)}'"),
                };
            }
            case BinaryExpr b:
                if (b.Op == "and")
                {
                    var left = Evaluate(b.Left, scope);
                    return Values.IsTruthy(left) ? Evaluate(b.Right, scope) : left;
                }
                if (b.Op == "or")
                {
                    var left = Evaluate(b.Left, scope);
                    return Values.IsTruthy(left) ? left : Evaluate(b.Right, scope);
                }
                return Operators.Binary(b.Op, Evaluate(b.Left, scope), Evaluate(b.Right, scope));
            case ConditionalExpr c:
                if (Values.IsTruthy(Evaluate(c.Condition, scope))) return Evaluate(c.Then, scope);
                return c.Else is null ? new Undefined("else") : Evaluate(c.Else, scope);
            default:
                throw new ChatTemplateException($"unsupported expression {expr.GetType().Name}");
        }
    }

    private object? EvalOptional(Expr? e, Scope scope) => e is null ? null : Evaluate(e, scope);

    public Arguments EvaluateArgs(ArgList args, Scope scope)
    {
        if (args.Positional.Count == 0 && args.Keywords.Count == 0) return new Arguments(new List<object?>(), new OrderedDictionary<string, object?>());
        var positional = new List<object?>(args.Positional.Count);
        foreach (var p in args.Positional) positional.Add(Evaluate(p, scope));
        var keywords = new OrderedDictionary<string, object?>();
        foreach (var (name, value) in args.Keywords) keywords[name] = Evaluate(value, scope);
        return new Arguments(positional, keywords);
    }

    /// <summary><c>obj.name</c>: dict keys, namespace and loop attributes; anything else is undefined.</summary>
    public static object? GetAttribute(object? target, string name) => target switch
    {
        PyDict d => d.TryGetValue(name, out var v) ? v : new Undefined(name),
        Namespace ns => ns.Attributes.TryGetValue(name, out var v) ? v : new Undefined(name),
        LoopContext loop => loop.GetAttribute(name),
        _ => new Undefined(name),
    };

    /// <summary><c>obj[key]</c>: Python indexing, with a missing key or index giving undefined as Jinja does.</summary>
    public static object? GetItem(object? target, object? key)
    {
        switch (target)
        {
            case PyDict d:
                return PyDict.TryKey(key, out var k) && d.TryGetValue(k, out var v) ? v : new Undefined(Values.ToStr(key));
            case List<object?> list when key is long or bool:
            {
                long i = key is bool b ? (b ? 1 : 0) : (long)key;
                if (i < 0) i += list.Count;
                return i >= 0 && i < list.Count ? list[(int)i] : new Undefined($"[{key}]");
            }
            case string s when key is long or bool:
            {
                var chars = Values.StringElements(s);
                long i = key is bool b ? (b ? 1 : 0) : (long)key;
                if (i < 0) i += chars.Count;
                return i >= 0 && i < chars.Count ? chars[(int)i] : new Undefined($"[{key}]");
            }
            case Namespace or LoopContext when key is string name:
                return GetAttribute(target, name);
            default:
                return new Undefined(Values.ToStr(key));
        }
    }

    private object? EvaluateCall(CallExpr c, Scope scope)
    {
        if (c.Callee is AttrExpr attr)
        {
            var target = Evaluate(attr.Target, scope);
            var args = EvaluateArgs(c.Args, scope);
            if (target is LoopContext loop && attr.Name == "cycle") return loop.Cycle(args);
            if (Methods.TryInvoke(target, attr.Name, args, out var result)) return result;
            return CallValue(GetAttribute(target, attr.Name), args, c.Callee);
        }
        return CallValue(Evaluate(c.Callee, scope), EvaluateArgs(c.Args, scope), c.Callee);
    }

    private object? CallValue(object? callee, Arguments args, Expr calleeExpr)
    {
        if (callee is Callable callable) return callable.Invoke(this, args);
        string what = calleeExpr switch
        {
            NameExpr n => n.Name,
            AttrExpr a => a.Name,
            _ => Values.TypeName(callee),
        };
        if (callee is Undefined) throw new ChatTemplateException($"'{what}' is undefined");
        throw new ChatTemplateException($"'{what}' ({Values.TypeName(callee)}) is not callable");
    }
}
