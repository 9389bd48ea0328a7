
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>A macro (or the body of a call block, as <c>caller</c>) closed over the scope that defined it.</summary>
internal sealed class Macro : Callable
{
    private readonly IReadOnlyList<MacroParam> _params;
    private readonly IReadOnlyList<Node> _body;
    private readonly Scope _closure;

    public Macro(string name, IReadOnlyList<MacroParam> parameters, IReadOnlyList<Node> body, Scope closure)
    {
        Name = name;
        _params = parameters;
        _body = body;
        _closure = closure;
    }

    public override string Name { get; }

    public override object? Invoke(Interpreter interpreter, Arguments args)
    {
        var scope = new Scope(_closure);
        var extraKeywords = new PyDict();
        foreach (var (k, v) in args.Keywords)
        {
            if (k == "caller") scope.Set("caller", v);
            else if (!_params.Any(p => p.Name == k)) extraKeywords[k] = v;
        }
        for (int i = 0; i < _params.Count; i++)
        {
            var p = _params[i];
            object? value;
            if (i < args.Positional.Count) value = args.Positional[i];
            else if (args.Keywords.TryGetValue(p.Name, out var kv)) value = kv;
            else if (p.Default is not null) value = interpreter.Evaluate(p.Default, scope);
            else value = new Undefined(p.Name);
            scope.Set(p.Name, value);
        }
        scope.Set("varargs", new PyTuple(args.Positional.Skip(_params.Count)));
        scope.Set("kwargs", extraKeywords);
        return interpreter.RenderMacroBody(_body, scope);
    }
}
