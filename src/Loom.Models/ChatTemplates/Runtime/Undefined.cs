
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>
/// Jinja's default <c>Undefined</c>: prints as empty, is falsy, iterates as empty, and compares unequal to
/// everything but another undefined. Unlike stock Jinja, attributes and items of undefined are undefined
/// rather than an error, because real templates probe nested fields that way.
/// </summary>
internal sealed class Undefined
{
    public static readonly Undefined Instance = new("value");

    public Undefined(string name) => Name = name;

    /// <summary>What was looked up, for error messages.</summary>
    public string Name { get; }

    public override string ToString() => "";
}
