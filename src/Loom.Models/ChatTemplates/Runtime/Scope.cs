
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>
/// A variable frame. Loop bodies and macro calls get a child frame, so <c>set</c> inside them does not leak
/// out, as in Jinja; <c>if</c> blocks share their parent's frame.
/// </summary>
internal sealed class Scope
{
    private readonly Dictionary<string, object?> _vars = new();

    public Scope(Scope? parent) => Parent = parent;

    public Scope? Parent { get; }

    public bool TryLookup(string name, out object? value)
    {
        for (var s = this; s is not null; s = s.Parent)
            if (s._vars.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public void Set(string name, object? value) => _vars[name] = value;
}
