
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>
/// A Python dict: insertion-ordered, keyed by strings, numbers, booleans or None with Python's key equality
/// (<c>1</c>, <c>1.0</c> and <c>True</c> are the same key).
/// </summary>
internal sealed class PyDict : OrderedDictionary<object, object?>
{
    public PyDict() : base(KeyComparer.Instance)
    {
    }

    /// <summary>Checks that <paramref name="key"/> is hashable in Python terms, as dict literals and assignment need.</summary>
    public static object Key(object? key) =>
        TryKey(key, out var k) ? k : throw new ChatTemplateException($"unhashable type: '{Loom.Models.ChatTemplates.Runtime.Values.TypeName(key)}'");

    public static bool TryKey(object? key, out object result)
    {
        result = key switch
        {
            string or long or double or bool => key,
            null => NoneKey,
            PyTuple t when t.All(x => x is string or long or double or bool or null) => t,
            _ => NoneKey,
        };
        return key is null || !ReferenceEquals(result, NoneKey);
    }

    /// <summary>Stand-in for a None key (dictionary keys cannot be null).</summary>
    public static readonly object NoneKey = new();

    /// <summary>A stored key as a template value.</summary>
    public static object? Value(object key) => ReferenceEquals(key, NoneKey) ? null : key;

    private sealed class KeyComparer : IEqualityComparer<object>
    {
        public static readonly KeyComparer Instance = new();

        public new bool Equals(object? x, object? y) =>
            ReferenceEquals(x, y) || (!ReferenceEquals(x, NoneKey) && !ReferenceEquals(y, NoneKey) && Loom.Models.ChatTemplates.Runtime.Values.PyEquals(x, y));

        public int GetHashCode(object obj) => obj switch
        {
            string s => string.GetHashCode(s, StringComparison.Ordinal),
            long l => l.GetHashCode(),
            bool b => (b ? 1L : 0L).GetHashCode(),
            double d when d == Math.Floor(d) && Math.Abs(d) < 9e18 => ((long)d).GetHashCode(),
            double d => d.GetHashCode(),
            PyTuple t => t.Aggregate(17, (h, x) => h * 31 + (x is null ? 0 : GetHashCode(x))),
            _ => 0,
        };
    }
}
