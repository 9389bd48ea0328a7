
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>A value a template can call: a global function or a macro.</summary>
internal abstract class Callable
{
    public abstract string Name { get; }

    public abstract object? Invoke(Interpreter interpreter, Arguments args);
}

/// <summary>A global implemented in C# (<c>range</c>, <c>namespace</c>, <c>raise_exception</c>, ...).</summary>
internal sealed class BuiltinFunction : Callable
{
    private readonly Func<Interpreter, Arguments, object?> _body;

    public BuiltinFunction(string name, Func<Interpreter, Arguments, object?> body)
    {
        Name = name;
        _body = body;
    }

    public override string Name { get; }

    public override object? Invoke(Interpreter interpreter, Arguments args) => _body(interpreter, args);
}
