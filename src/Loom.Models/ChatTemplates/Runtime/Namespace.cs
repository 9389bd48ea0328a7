
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>
/// The object <c>namespace(...)</c> returns: the one value whose attributes a template may assign
/// (<c>{% set ns.x = ... %}</c>), which is how state escapes a loop body's scope.
/// </summary>
internal sealed class Namespace
{
    public OrderedDictionary<string, object?> Attributes { get; } = new();
}
