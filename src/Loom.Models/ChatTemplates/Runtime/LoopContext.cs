
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>The <c>loop</c> variable inside a for loop.</summary>
internal sealed class LoopContext
{
    private readonly IReadOnlyList<object?> _items;

    public LoopContext(IReadOnlyList<object?> items) => _items = items;

    public int Index0 { get; set; }

    public object? GetAttribute(string name) => name switch
    {
        "index" => (long)Index0 + 1,
        "index0" => (long)Index0,
        "revindex" => (long)(_items.Count - Index0),
        "revindex0" => (long)(_items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == _items.Count - 1,
        "length" => (long)_items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? _items[Index0 - 1] : new Undefined("loop.previtem"),
        "nextitem" => Index0 + 1 < _items.Count ? _items[Index0 + 1] : new Undefined("loop.nextitem"),
        _ => new Undefined("loop." + name),
    };

    /// <summary><c>loop.cycle(a, b, ...)</c>.</summary>
    public object? Cycle(Arguments args) =>
        args.Positional.Count == 0 ? throw new ChatTemplateException("loop.cycle() needs at least one argument") : args.Positional[Index0 % args.Positional.Count];
}
