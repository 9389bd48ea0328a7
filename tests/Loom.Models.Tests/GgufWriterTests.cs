using System.Runtime.InteropServices;
using Loom.Core.Quantization;
using Loom.Core.Tensors;
using Loom.Models.Formats.Gguf;

namespace Loom.Models.Tests;

public class GgufWriterTests
{
    [Fact]
    public void EveryValueTypeRoundTrips()
    {
        using var dir = new TempDir();
        var path = dir.File("values.gguf");
        GgufSamples.Writer(1).Write(path);
        using var f = GgufFile.Open(path);

        Assert.Equal(3u, f.Version);
        Assert.Equal((byte)200, f.Metadata["t.u8"]);
        Assert.Equal((sbyte)-7, f.Metadata["t.i8"]);
        Assert.Equal((ushort)60000, f.Metadata["t.u16"]);
        Assert.Equal((short)-30000, f.Metadata["t.i16"]);
        Assert.Equal(4_000_000_000u, f.Metadata["t.u32"]);
        Assert.Equal(-123456, f.Metadata["t.i32"]);
        Assert.Equal(ulong.MaxValue - 5, f.Metadata["t.u64"]);
        Assert.Equal(long.MinValue + 3, f.Metadata["t.i64"]);
        Assert.Equal(3.25f, f.Metadata["t.f32"]);
        Assert.Equal(-1e300, f.Metadata["t.f64"]);
        Assert.Equal(true, f.Metadata["t.bool"]);
        Assert.Equal("", f.GetString("t.empty"));
        Assert.Equal("fuzz sample ✓", f.GetString("general.name"));
        Assert.Equal(["<unk>", "<s>", "▁the", ""], f.GetStringArray("t.tokens")!);
        Assert.Equal([0f, -1.5f, float.MaxValue], f.GetFloatArray("t.scores")!);
        Assert.Equal([2, 3, 1, 1], f.GetInt32Array("t.types")!);
        Assert.Equal([true, false, true], (bool[])f.GetArray("t.bools")!.Values);

        var nested = f.GetArray("t.nested")!;
        Assert.Equal(GgufValueType.Array, nested.ElementType);
        var inner = (GgufArray[])nested.Values;
        Assert.Equal(3, inner.Length);
        Assert.Equal(new ushort[] { 1, 2, 3 }, (ushort[])inner[0].Values);
        Assert.Equal(["a", "bc"], (string[])inner[1].Values);
        var deepest = ((GgufArray[])inner[2].Values)[0];
        Assert.Equal(new long[] { -1 }, (long[])deepest.Values);
    }

    [Fact]
    public void MetadataReadBackCanBeWrittenAgainUnchanged()
    {
        using var dir = new TempDir();
        GgufSamples.Writer(2).Write(dir.File("a.gguf"));
        using var a = GgufFile.Open(dir.File("a.gguf"));
        var w = new GgufWriter();
        foreach (var (k, v) in a.Metadata) w.Add(k, v);
        foreach (var t in a.Tensors) w.AddTensor(t.Name, t.Type, t.Shape, a.GetTensor(t.Name).Bytes.ToArray());
        w.Write(dir.File("b.gguf"));
        Assert.Equal(File.ReadAllBytes(dir.File("a.gguf")), File.ReadAllBytes(dir.File("b.gguf")));
    }

    [Theory]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    public void FloatTensorsAreConverted(GgmlType type)
    {
        using var dir = new TempDir();
        var data = GgufSamples.RandomFloats(new Random(3), 7 * 5);
        new GgufWriter().AddTensor("x", type, [7, 5], data).Write(dir.File("f.gguf"));
        using var f = GgufFile.Open(dir.File("f.gguf"));
        var t = f.GetTensor("x");
        Assert.Equal(type, t.Type);
        Assert.Equal([7L, 5L], t.Shape);
        var back = new float[data.Length];
        Quants.Dequantize(type, t.Bytes, back);
        var expected = new byte[t.ByteSize];
        Quants.Quantize(type, data, expected);
        Assert.Equal(expected, t.Bytes.ToArray());
        for (int i = 0; i < data.Length; i++) Assert.Equal(data[i], back[i], type == GgmlType.F32 ? 0 : 0.02);
    }

    public static TheoryData<GgmlType> AllSupportedTypes() =>
        new(Enum.GetValues<GgmlType>().Where(TypeTraits.IsSupported));

    [Theory]
    [MemberData(nameof(AllSupportedTypes))]
    public void RawTensorsOfEveryTypeRoundTripAligned(GgmlType type)
    {
        using var dir = new TempDir();
        var rng = new Random((int)type);
        long cols = TypeTraits.BlockSize(type) * 16;
        var w = new GgufWriter();
        w.Add("general.alignment", 64u);
        w.AddTensor("odd", GgmlType.F16, [1], GgufSamples.RandomBytes(rng, 2)); // 2 bytes force padding before the next tensor
        var raw = GgufSamples.RandomBytes(rng, TypeTraits.RowSize(type, cols) * 3);
        w.AddTensor("t", type, [cols, 3], raw);
        var streamed = GgufSamples.RandomBytes(rng, TypeTraits.RowSize(type, cols));
        w.AddTensor("s", type, [cols], s => { s.Write(streamed, 0, 5); s.Write(streamed.AsSpan(5)); });
        w.Write(dir.File("t.gguf"));

        using var f = GgufFile.Open(dir.File("t.gguf"));
        Assert.Equal(64, f.Alignment);
        Assert.Equal(0, f.DataOffset % 64);
        Assert.All(f.Tensors, t => Assert.Equal(0ul, t.Offset % 64));
        Assert.Equal(raw, f.GetTensor("t").Bytes.ToArray());
        Assert.Equal(streamed, f.GetTensor("s").Bytes.ToArray());
        Assert.Equal(type, f.FindTensor("s")!.Type);
    }

    [Fact]
    public void LayoutIsTheOneLlamaCppRequires()
    {
        // llama.cpp insists that offsets are consecutive, each tensor padded to the alignment, data section aligned.
        using var dir = new TempDir();
        GgufSamples.Writer(4).Write(dir.File("l.gguf"));
        using var f = GgufFile.Open(dir.File("l.gguf"));
        ulong expected = 0;
        foreach (var t in f.Tensors)
        {
            Assert.Equal(expected, t.Offset);
            expected += (ulong)((t.ByteSize + 31) / 32 * 32);
        }
        Assert.Equal(f.DataOffset + (long)expected, f.FileLength);
    }

    [Fact]
    public void WriterRefusesInvalidInput()
    {
        var w = new GgufWriter();
        w.Add("k", 1);
        Assert.Throws<ArgumentException>(() => w.Add("k", 2));
        Assert.Throws<ArgumentException>(() => w.Add("x", new object()));
        Assert.Throws<ArgumentException>(() => w.Add("x", (object)new decimal[1]));
        Assert.Throws<ArgumentException>(() => w.Add("general.alignment", 32)); // must be uint
        Assert.Throws<ArgumentException>(() => w.Add("general.alignment", 48u));
        Assert.Throws<ArgumentException>(() => w.Add("x", new GgufArray(GgufValueType.Int32, new float[1])));
        Assert.Throws<ArgumentException>(() => w.Add("x", new GgufArray(GgufValueType.Int32, new GgufArray[0])));
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.F32, [4], new byte[15]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.F32, [4], new float[5]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.Q8_0, [33], new byte[34 * 2]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.F32, [], new byte[4]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.F32, [0], new byte[0]));
        Assert.Throws<ArgumentException>(() => w.AddTensor(new string('n', 64), GgmlType.F32, [1], new byte[4]));
        w.AddTensor("t", GgmlType.F32, [1], new byte[4]);
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.F32, [1], new byte[4]));
    }

    [Fact]
    public void CallbackWritingTheWrongSizeFailsAndLeavesNoFile()
    {
        using var dir = new TempDir();
        var w = new GgufWriter().AddTensor("t", GgmlType.F32, [4], s => s.Write(new byte[12]));
        Assert.Throws<InvalidOperationException>(() => w.Write(dir.File("bad.gguf")));
        Assert.False(File.Exists(dir.File("bad.gguf")));
    }

    [Fact]
    public void TypedGettersRefuseWrongTypesWithModelFormatException()
    {
        using var dir = new TempDir();
        GgufSamples.Writer(5).Write(dir.File("g.gguf"));
        using var f = GgufFile.Open(dir.File("g.gguf"));
        Assert.Throws<ModelFormatException>(() => f.GetString("t.u32"));
        Assert.Throws<ModelFormatException>(() => f.GetInteger("t.f32"));
        Assert.Throws<ModelFormatException>(() => f.GetInteger("t.bool"));
        Assert.Throws<ModelFormatException>(() => f.GetInteger("t.u64")); // above long.MaxValue
        Assert.Throws<ModelFormatException>(() => f.GetInt32("t.u32")); // above int.MaxValue
        Assert.Throws<ModelFormatException>(() => f.GetFloat("t.empty"));
        Assert.Throws<ModelFormatException>(() => f.GetBool("t.i8"));
        Assert.Throws<ModelFormatException>(() => f.GetArray("t.i8"));
        Assert.Throws<ModelFormatException>(() => f.GetStringArray("t.scores"));
        Assert.Throws<ModelFormatException>(() => f.GetFloatArray("t.tokens"));
        Assert.Throws<ModelFormatException>(() => f.GetInt32Array("t.bools"));
        Assert.Null(f.GetString("absent"));
        Assert.Null(f.GetInt32Array("absent"));
        Assert.Equal(-123456, f.GetInt32("t.i32"));
        Assert.Equal(200, f.GetInteger("t.u8"));
        Assert.Equal(3.25, f.GetFloat("t.f32"));
        var ex = Assert.Throws<ModelFormatException>(() => f.GetTensor("absent"));
        Assert.Contains("g.gguf", ex.Message);
    }

    [Fact]
    public void GetTensorAfterDisposeThrowsInsteadOfCrashing()
    {
        using var dir = new TempDir();
        GgufSamples.Writer(6).Write(dir.File("d.gguf"));
        var f = GgufFile.Open(dir.File("d.gguf"));
        f.Dispose();
        Assert.Throws<ObjectDisposedException>(() => f.GetTensor("a.f32"));
    }

    [Fact]
    public void StreamedFloatsMatchQuantsByteForByte()
    {
        using var dir = new TempDir();
        var data = GgufSamples.RandomFloats(new Random(9), 32 * 4);
        var expected = new byte[data.Length * 2];
        Quants.Quantize(GgmlType.F16, data, expected);
        new GgufWriter().AddTensor("h", GgmlType.F16, [32, 4], data).Write(dir.File("h.gguf"));
        using var f = GgufFile.Open(dir.File("h.gguf"));
        Assert.Equal(expected, f.GetTensor("h").Bytes.ToArray());
        Assert.Equal(MemoryMarshal.Cast<byte, Half>(expected)[5], MemoryMarshal.Cast<byte, Half>(f.GetTensor("h").Row(0))[5]);
    }
}
