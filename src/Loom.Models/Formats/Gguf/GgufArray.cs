namespace Loom.Models.Formats.Gguf;

/// <summary>
/// A metadata array. <see cref="Values"/> is a typed .NET array (<c>string[]</c>, <c>float[]</c>, <c>int[]</c>, ...)
/// or, for arrays of arrays, <c>GgufArray[]</c>.
/// </summary>
public sealed record GgufArray(GgufValueType ElementType, Array Values)
{
    public int Count => Values.Length;
}
