
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>Evaluated call arguments, with Python-style lookup by position or keyword.</summary>
internal sealed class Arguments
{
    public static readonly Arguments None = new(new List<object?>(), new OrderedDictionary<string, object?>());

    public Arguments(List<object?> positional, OrderedDictionary<string, object?> keywords)
    {
        Positional = positional;
        Keywords = keywords;
    }

    public List<object?> Positional { get; }

    public OrderedDictionary<string, object?> Keywords { get; }

    public int Count => Positional.Count + Keywords.Count;

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        if (index >= 0 && index < Positional.Count) return Positional[index];
        return Keywords.TryGetValue(name, out var v) ? v : fallback;
    }

    public bool Has(int index, string name) => (index >= 0 && index < Positional.Count) || Keywords.ContainsKey(name);

    /// <summary>This with <paramref name="count"/> leading positionals removed (for filters that forward the rest).</summary>
    public Arguments Skip(int count) => new(Positional.Skip(count).ToList(), Keywords);
}
