using System.Buffers.Binary;
using Loom.Models.Formats.Gguf;

namespace Loom.Models.Tests;

/// <summary>
/// Where the structural fields of a valid GGUF header lie (counts, lengths, types, dims, offsets), found by a
/// walk independent of <see cref="GgufFile"/>, so the fuzzer can aim extreme values at exactly those bytes.
/// </summary>
internal sealed class GgufLayout
{
    public sealed record Field(string Kind, int Offset, int Width, ulong Original);

    public List<Field> Fields { get; } = [];
    public long HeaderEnd { get; private set; }

    /// <summary>A field of a uniformly chosen kind, so the few tensor fields are hit as often as thousands of token lengths.</summary>
    public Field RandomField(Random rng)
    {
        _byKind ??= Fields.GroupBy(f => f.Kind).Select(g => g.ToArray()).ToArray();
        var kind = _byKind[rng.Next(_byKind.Length)];
        return kind[rng.Next(kind.Length)];
    }

    private Field[][]? _byKind;

    private readonly byte[] _b;
    private int _pos;

    private GgufLayout(byte[] b) => _b = b;

    public static GgufLayout Parse(byte[] bytes)
    {
        var l = new GgufLayout(bytes);
        l._pos = 8;
        ulong nTensors = l.Take("tensor count", 8);
        ulong nKv = l.Take("kv count", 8);
        for (ulong i = 0; i < nKv; i++)
        {
            l.String();
            l.Value((GgufValueType)l.Take("value type", 4));
        }
        for (ulong i = 0; i < nTensors; i++)
        {
            l.String();
            ulong nDims = l.Take("n_dims", 4);
            for (ulong d = 0; d < nDims; d++) l.Take("dim", 8);
            l.Take("tensor type", 4);
            l.Take("tensor offset", 8);
        }
        l.HeaderEnd = l._pos;
        return l;
    }

    private ulong Take(string kind, int width)
    {
        ulong v = width == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(_b.AsSpan(_pos)) : BinaryPrimitives.ReadUInt64LittleEndian(_b.AsSpan(_pos));
        Fields.Add(new Field(kind, _pos, width, v));
        _pos += width;
        return v;
    }

    private void String() { int n = (int)Take("string length", 8); _pos += n; }

    private void Value(GgufValueType t)
    {
        switch (t)
        {
            case GgufValueType.UInt8 or GgufValueType.Int8: _pos += 1; break;
            case GgufValueType.Bool: Fields.Add(new Field("bool", _pos, 1, _b[_pos])); _pos += 1; break;
            case GgufValueType.UInt16 or GgufValueType.Int16: _pos += 2; break;
            case GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32: _pos += 4; break;
            case GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64: _pos += 8; break;
            case GgufValueType.String: String(); break;
            case GgufValueType.Array:
                var et = (GgufValueType)Take("array element type", 4);
                ulong n = Take("array count", 8);
                for (ulong i = 0; i < n; i++) Value(et);
                break;
            default: throw new InvalidDataException($"not a valid GGUF: value type {t}");
        }
    }
}
