using Loom.Core.Tensors;

namespace Loom.Models.Formats.Gguf;

/// <summary>One tensor's header entry. <see cref="Offset"/> is relative to the start of the data section.</summary>
public sealed record GgufTensorInfo(string Name, long[] Shape, GgmlType Type, ulong Offset, long ByteSize);
