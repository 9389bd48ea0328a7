using System.Runtime.CompilerServices;
using System.Text;

namespace Loom.Models.Formats.Gguf;

/// <summary>
/// Bounds-checked little-endian cursor over a mapped GGUF header. Every read checks the bytes left first,
/// and every count is compared with the bytes its elements would need before anything is allocated, so a
/// hostile file costs at most work and memory proportional to its own length.
/// </summary>
internal unsafe struct GgufCursor(string path, byte* data, long length)
{
    /// <summary>Deepest nesting of arrays accepted; real files use none (llama.cpp itself accepts none).</summary>
    public const int MaxArrayDepth = 8;

    private long _pos;
    public readonly long Position => _pos;
    public readonly long Remaining => length - _pos;

    private readonly ModelFormatException Fail(string problem) => new(path, problem);

    private void Need(long n)
    {
        if (n > length - _pos) throw Fail($"truncated: needed {n} bytes at offset {_pos}, file has {length}");
    }

    public byte U8() { Need(1); return data[_pos++]; }
    public ushort U16() { Need(2); var v = Unsafe.ReadUnaligned<ushort>(data + _pos); _pos += 2; return v; }
    public uint U32() { Need(4); var v = Unsafe.ReadUnaligned<uint>(data + _pos); _pos += 4; return v; }
    public ulong U64() { Need(8); var v = Unsafe.ReadUnaligned<ulong>(data + _pos); _pos += 8; return v; }

    public string Str()
    {
        long at = _pos;
        ulong n = U64();
        if (n > (ulong)Remaining) throw Fail($"string of {n} bytes at offset {at} runs past the end of the file");
        if (n > int.MaxValue) throw Fail($"string of {n} bytes at offset {at} is too long");
        var s = Encoding.UTF8.GetString(data + _pos, (int)n);
        _pos += (long)n;
        return s;
    }

    public object Value(GgufValueType type, int depth) => type switch
    {
        GgufValueType.UInt8 => U8(),
        GgufValueType.Int8 => (sbyte)U8(),
        GgufValueType.UInt16 => U16(),
        GgufValueType.Int16 => (short)U16(),
        GgufValueType.UInt32 => U32(),
        GgufValueType.Int32 => (int)U32(),
        GgufValueType.Float32 => BitConverter.UInt32BitsToSingle(U32()),
        GgufValueType.Bool => Bool(),
        GgufValueType.String => Str(),
        GgufValueType.UInt64 => U64(),
        GgufValueType.Int64 => (long)U64(),
        GgufValueType.Float64 => BitConverter.UInt64BitsToDouble(U64()),
        GgufValueType.Array => Array(depth),
        _ => throw Fail($"unknown metadata value type {(uint)type} at offset {_pos - 4}"),
    };

    private bool Bool()
    {
        byte b = U8();
        return b switch { 0 => false, 1 => true, _ => throw Fail($"bool byte {b} at offset {_pos - 1} is neither 0 nor 1") };
    }

    /// <summary>Fewest bytes one element of this type occupies; 0 for an unknown type.</summary>
    private static long MinElementBytes(GgufValueType t) => t switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
        GgufValueType.Array => 12,
        _ => 0,
    };

    private GgufArray Array(int depth)
    {
        if (depth >= MaxArrayDepth) throw Fail($"metadata arrays nested more than {MaxArrayDepth} deep");
        long at = _pos;
        var et = (GgufValueType)U32();
        ulong n = U64();
        long min = MinElementBytes(et);
        if (min == 0) throw Fail($"unknown array element type {(uint)et} at offset {at}");
        // Checked before allocating: a count the remaining bytes cannot hold is a lie.
        if (n > (ulong)(Remaining / min)) throw Fail($"array of {n} {et} elements at offset {at} is larger than the rest of the file");
        if (n > (ulong)System.Array.MaxLength) throw Fail($"array of {n} elements at offset {at} is too long");
        int count = (int)n;
        switch (et)
        {
            case GgufValueType.UInt8: return new(et, Bytes(count).ToArray());
            case GgufValueType.Int8: return new(et, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(Bytes(count)).ToArray());
            case GgufValueType.UInt16: { var a = new ushort[count]; for (int i = 0; i < count; i++) a[i] = U16(); return new(et, a); }
            case GgufValueType.Int16: { var a = new short[count]; for (int i = 0; i < count; i++) a[i] = (short)U16(); return new(et, a); }
            case GgufValueType.UInt32: { var a = new uint[count]; for (int i = 0; i < count; i++) a[i] = U32(); return new(et, a); }
            case GgufValueType.Int32: { var a = new int[count]; for (int i = 0; i < count; i++) a[i] = (int)U32(); return new(et, a); }
            case GgufValueType.Float32: { var a = new float[count]; for (int i = 0; i < count; i++) a[i] = BitConverter.UInt32BitsToSingle(U32()); return new(et, a); }
            case GgufValueType.UInt64: { var a = new ulong[count]; for (int i = 0; i < count; i++) a[i] = U64(); return new(et, a); }
            case GgufValueType.Int64: { var a = new long[count]; for (int i = 0; i < count; i++) a[i] = (long)U64(); return new(et, a); }
            case GgufValueType.Float64: { var a = new double[count]; for (int i = 0; i < count; i++) a[i] = BitConverter.UInt64BitsToDouble(U64()); return new(et, a); }
            case GgufValueType.Bool: { var a = new bool[count]; for (int i = 0; i < count; i++) a[i] = Bool(); return new(et, a); }
            case GgufValueType.String: { var a = new string[count]; for (int i = 0; i < count; i++) a[i] = Str(); return new(et, a); }
            default: { var a = new GgufArray[count]; for (int i = 0; i < count; i++) a[i] = Array(depth + 1); return new(et, a); }
        }
    }

    private ReadOnlySpan<byte> Bytes(int n)
    {
        Need(n);
        var span = new ReadOnlySpan<byte>(data + _pos, n);
        _pos += n;
        return span;
    }
}
