using System.Text;
using Loom.Core.Tensors;
using Loom.Models.Formats.Gguf;

namespace Loom.Models.Tests;

/// <summary>A temporary directory removed on dispose.</summary>
/// <summary>A temporary directory removed on dispose.</summary>
internal sealed class TempDir(bool inMemory = false) : IDisposable
{
    // Rewriting a file thousands of times costs milliseconds each on ext4 (truncate forces a flush) but
    // microseconds on tmpfs, so the fuzzer asks for /dev/shm where there is one.
    public string Path { get; } = inMemory && Directory.Exists("/dev/shm")
        ? Directory.CreateDirectory(System.IO.Path.Combine("/dev/shm", "loom-test-" + Guid.NewGuid().ToString("N"))).FullName
        : Directory.CreateTempSubdirectory("loom-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}

/// <summary>
/// Writes GGUF bytes field by field, independently of <see cref="GgufWriter"/>, so tests can build
/// v2 files and malformed headers the writer would refuse to produce.
/// </summary>
internal sealed class RawGguf
{
    private readonly MemoryStream _ms = new();
    private readonly BinaryWriter _w;

    public RawGguf() => _w = new BinaryWriter(_ms, Encoding.UTF8, leaveOpen: true);

    public long Length { get { _w.Flush(); return _ms.Length; } }

    public RawGguf Header(uint version, ulong nTensors, ulong nKv) { _w.Write(GgufFile.Magic); _w.Write(version); _w.Write(nTensors); _w.Write(nKv); return this; }
    public RawGguf U8(byte v) { _w.Write(v); return this; }
    public RawGguf U32(uint v) { _w.Write(v); return this; }
    public RawGguf U64(ulong v) { _w.Write(v); return this; }
    public RawGguf F32(float v) { _w.Write(v); return this; }
    public RawGguf Str(string s) { var b = Encoding.UTF8.GetBytes(s); _w.Write((ulong)b.Length); _w.Write(b); return this; }
    public RawGguf Kv(string key, GgufValueType type) { Str(key); return U32((uint)type); }

    public RawGguf TensorInfo(string name, GgmlType type, ulong offset, params ulong[] dims)
    {
        Str(name).U32((uint)dims.Length);
        foreach (var d in dims) U64(d);
        return U32((uint)type).U64(offset);
    }

    /// <summary>Zero bytes up to the next multiple of <paramref name="alignment"/>.</summary>
    public RawGguf Pad(int alignment = 32) { while (Length % alignment != 0) _w.Write((byte)0); return this; }
    public RawGguf Bytes(ReadOnlySpan<byte> b) { _w.Write(b); return this; }

    public byte[] ToArray() { _w.Flush(); return _ms.ToArray(); }
    public string Save(string path) { System.IO.File.WriteAllBytes(path, ToArray()); return path; }
}

/// <summary>Small valid files exercising every metadata type and several tensor types.</summary>
internal static class GgufSamples
{
    public static GgufWriter Writer(int seed, int alignment = 32)
    {
        var rng = new Random(seed);
        var w = new GgufWriter();
        if (alignment != 32) w.Add(GgufFile.AlignmentKey, (uint)alignment);
        w.Add("general.architecture", "llama")
         .Add("general.name", "fuzz sample ✓")
         .Add("t.u8", (byte)200).Add("t.i8", (sbyte)-7).Add("t.u16", (ushort)60000).Add("t.i16", (short)-30000)
         .Add("t.u32", 4_000_000_000u).Add("t.i32", -123456).Add("t.u64", ulong.MaxValue - 5).Add("t.i64", long.MinValue + 3)
         .Add("t.f32", 3.25f).Add("t.f64", -1e300).Add("t.bool", true).Add("t.empty", "")
         .Add("t.tokens", new[] { "<unk>", "<s>", "▁the", "" })
         .Add("t.scores", new[] { 0f, -1.5f, float.MaxValue })
         .Add("t.types", new[] { 2, 3, 1, 1 })
         .Add("t.bools", new[] { true, false, true })
         .Add("t.nested", new GgufArray(GgufValueType.Array, new[]
         {
             new GgufArray(GgufValueType.UInt16, new ushort[] { 1, 2, 3 }),
             new GgufArray(GgufValueType.String, new[] { "a", "bc" }),
             new GgufArray(GgufValueType.Array, new[] { new GgufArray(GgufValueType.Int64, new long[] { -1 }) }),
         }));
        w.AddTensor("a.f32", GgmlType.F32, [8, 3], RandomFloats(rng, 24));
        w.AddTensor("b.f16", GgmlType.F16, [5], RandomFloats(rng, 5));
        w.AddTensor("c.q8_0", GgmlType.Q8_0, [64, 2], RandomBytes(rng, TypeTraits.RowSize(GgmlType.Q8_0, 64) * 2));
        w.AddTensor("d.q4_k", GgmlType.Q4_K, [256], RandomBytes(rng, TypeTraits.RowSize(GgmlType.Q4_K, 256)));
        w.AddTensor("e.bf16", GgmlType.BF16, [2, 2, 2, 2], RandomFloats(rng, 16));
        return w;
    }

    public static byte[] Bytes(int seed, int alignment = 32)
    {
        using var ms = new MemoryStream();
        Writer(seed, alignment).Write(ms);
        return ms.ToArray();
    }

    public static float[] RandomFloats(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 4 - 2);
        return a;
    }

    public static byte[] RandomBytes(Random rng, long n)
    {
        var a = new byte[n];
        rng.NextBytes(a);
        return a;
    }
}
