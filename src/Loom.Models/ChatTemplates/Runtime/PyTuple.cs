
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>
/// A tuple: behaves as a list everywhere except that it prints as <c>(a, b)</c> and never equals a list,
/// as in Python. Tuple literals, <c>items()</c> pairs, and <c>varargs</c> are tuples.
/// </summary>
internal sealed class PyTuple : List<object?>
{
    public PyTuple()
    {
    }

    public PyTuple(IEnumerable<object?> items) : base(items)
    {
    }
}
