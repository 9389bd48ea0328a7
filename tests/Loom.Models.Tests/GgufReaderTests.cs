using System.Diagnostics;
using Loom.Core.Tensors;
using Loom.Models.Formats.Gguf;

namespace Loom.Models.Tests;

public class GgufReaderTests
{
    [Fact]
    public void ReadsHandWrittenV2File()
    {
        using var dir = new TempDir();
        var raw = new RawGguf().Header(2, 1, 3)
            .Kv("general.architecture", GgufValueType.String).Str("llama")
            .Kv("llama.block_count", GgufValueType.UInt32).U32(5)
            .Kv("tokenizer.ggml.scores", GgufValueType.Array).U32((uint)GgufValueType.Float32).U64(2).F32(-1).F32(-2)
            .TensorInfo("w", GgmlType.F32, 0, 2, 1)
            .Pad().F32(1.5f).F32(-2.5f);
        using var f = GgufFile.Open(raw.Save(dir.File("v2.gguf")));
        Assert.Equal(2u, f.Version);
        Assert.Equal("llama", f.GetString("general.architecture"));
        Assert.Equal(5, f.GetInt32("llama.block_count"));
        Assert.Equal([-1f, -2f], f.GetFloatArray("tokenizer.ggml.scores")!);
        var t = f.GetTensor("w");
        Assert.Equal([2L, 1L], t.Shape);
        Assert.Equal(new byte[] { 0, 0, 0xC0, 0x3F, 0, 0, 0x20, 0xC0 }, t.Bytes.ToArray());
    }

    [Fact]
    public void OpensLazilyWithoutReadingTensorData()
    {
        using var dir = new TempDir();
        var path = dir.File("big.gguf");
        const long cols = 16384, rows = 16384; // 1 GiB of F32
        var header = new RawGguf().Header(3, 1, 1).Kv("general.architecture", GgufValueType.String).Str("llama")
            .TensorInfo("big", GgmlType.F32, 0, cols, rows).Pad();
        long dataStart = header.Length;
        using (var fs = new FileStream(path, FileMode.CreateNew))
        {
            fs.Write(header.ToArray());
            fs.SetLength(dataStart + cols * rows * 4); // sparse: nothing is allocated on disk
            fs.Position = dataStart;
            fs.Write([1, 2, 3, 4]);
            fs.Position = dataStart + cols * rows * 4 - 4;
            fs.Write([5, 6, 7, 8]);
        }

        using var proc = Process.GetCurrentProcess();
        GC.Collect();
        proc.Refresh();
        long before = proc.WorkingSet64;
        var sw = Stopwatch.StartNew();
        using var f = GgufFile.Open(path);
        var t = f.GetTensor("big");
        sw.Stop();
        unsafe
        {
            var p = (byte*)t.Data;
            Assert.Equal(1, p[0]);
            Assert.Equal(4, p[3]);
            Assert.Equal(0, p[cols * 4 * 100]);
            Assert.Equal(8, p[t.ByteSize - 1]);
            Assert.Equal(5, p[t.ByteSize - 4]);
        }
        proc.Refresh();
        long grown = proc.WorkingSet64 - before;
        Assert.True(sw.Elapsed < TimeSpan.FromMilliseconds(500), $"open took {sw.Elapsed}");
        Assert.True(grown < 100L << 20, $"working set grew by {grown >> 20} MiB");
        Assert.Equal(cols * rows * 4, t.ByteSize);
        Assert.Equal(dataStart, f.DataOffset);
    }

    private static ModelFormatException Refused(byte[] bytes, string expectedFragment)
    {
        using var dir = new TempDir();
        var path = dir.File("bad.gguf");
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<ModelFormatException>(() => { using var _ = GgufFile.Open(path); });
        Assert.Equal(path, ex.FilePath);
        Assert.Contains(expectedFragment, ex.Problem);
        return ex;
    }

    private static RawGguf OneKv(GgufValueType type) => new RawGguf().Header(3, 0, 1).Kv("k", type);

    [Fact]
    public void RefusesBadHeaders()
    {
        Refused([], "not a GGUF");
        Refused("GGUF"u8.ToArray(), "not a GGUF");
        Refused(new RawGguf().U32(0x12345678).U32(3).U64(0).U64(0).ToArray(), "bad magic");
        Refused(new RawGguf().Header(1, 0, 0).ToArray(), "version 1");
        Refused(new RawGguf().Header(4, 0, 0).ToArray(), "version 4");
        Refused(new RawGguf().Header(0x03000000, 0, 0).ToArray(), "big-endian");
        Refused(new RawGguf().Header(3, 0, 0).ToArray()[..20], "truncated");
        Refused(new RawGguf().Header(3, ulong.MaxValue, 0).ToArray(), "tensors cannot fit");
        Refused(new RawGguf().Header(3, 0, 1UL << 63).ToArray(), "metadata entries cannot fit");
    }

    [Theory]
    [InlineData(1UL << 31)]
    [InlineData(1UL << 32)]
    [InlineData(ulong.MaxValue)]
    [InlineData(100UL)]
    public void RefusesArrayCountsTheFileCannotHold(ulong count)
    {
        Refused(OneKv(GgufValueType.Array).U32((uint)GgufValueType.UInt8).U64(count).U8(1).ToArray(), "larger than the rest of the file");
        Refused(OneKv(GgufValueType.Array).U32((uint)GgufValueType.String).U64(count).U64(0).ToArray(), "larger than the rest of the file");
        Refused(OneKv(GgufValueType.Array).U32((uint)GgufValueType.Array).U64(count).U32(0).U64(0).ToArray(), "larger than the rest of the file");
    }

    [Theory]
    [InlineData(1UL << 31)]
    [InlineData(ulong.MaxValue)]
    [InlineData(9UL)]
    public void RefusesStringLengthsPastTheEnd(ulong length)
    {
        Refused(OneKv(GgufValueType.String).U64(length).Bytes("abcdefgh"u8).ToArray(), "runs past the end");
        Refused(new RawGguf().Header(3, 0, 1).U64(length).Bytes("abcdefgh"u8).ToArray(), "runs past the end");
    }

    [Fact]
    public void RefusesBadValues()
    {
        Refused(OneKv(GgufValueType.Bool).U8(2).ToArray(), "bool byte 2");
        Refused(OneKv(GgufValueType.Array).U32((uint)GgufValueType.Bool).U64(2).U8(1).U8(7).ToArray(), "bool byte 7");
        Refused(OneKv((GgufValueType)13).U64(0).ToArray(), "unknown metadata value type 13");
        Refused(OneKv(GgufValueType.Array).U32(99).U64(0).ToArray(), "unknown array element type 99");
        Refused(new RawGguf().Header(3, 0, 2).Kv("a", GgufValueType.UInt8).U8(1).Kv("a", GgufValueType.UInt8).U8(2).ToArray(), "duplicate metadata key");
        Refused(OneKv(GgufValueType.UInt64).U32(1).ToArray(), "truncated");
        var deep = OneKv(GgufValueType.Array);
        for (int i = 0; i < 20; i++) deep.U32((uint)GgufValueType.Array).U64(1);
        Refused(deep.U32((uint)GgufValueType.UInt8).U64(0).Bytes(new byte[64]).ToArray(), "nested");
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(48u)]
    [InlineData(1u << 31)]
    public void RefusesBadAlignment(uint alignment)
    {
        Refused(new RawGguf().Header(3, 0, 1).Kv("general.alignment", GgufValueType.UInt32).U32(alignment).ToArray(), "general.alignment");
    }

    [Fact]
    public void RefusesAlignmentOfTheWrongType()
    {
        Refused(new RawGguf().Header(3, 0, 1).Kv("general.alignment", GgufValueType.String).Str("32").ToArray(), "general.alignment");
    }

    private static byte[] OneTensor(GgmlType type, ulong offset, ulong[] dims, int dataBytes = 64, uint? nDims = null)
    {
        var r = new RawGguf().Header(3, 1, 0).Str("t").U32(nDims ?? (uint)dims.Length);
        foreach (var d in dims) r.U64(d);
        return r.U32((uint)type).U64(offset).Pad().Bytes(new byte[dataBytes]).ToArray();
    }

    [Fact]
    public void RefusesBadTensorInfos()
    {
        Refused(OneTensor(GgmlType.F32, 0, [0]), "dimension 0");
        Refused(OneTensor(GgmlType.F32, 0, [ulong.MaxValue]), "dimension");
        Refused(OneTensor(GgmlType.F32, 0, [1UL << 62, 1UL << 62]), "overflows");
        Refused(OneTensor(GgmlType.F32, 0, [1UL << 32, 1UL << 32]), "overflows");
        Refused(OneTensor(GgmlType.F32, 0, [1UL << 31, 1UL << 31]), "larger than the file");
        Refused(OneTensor(GgmlType.F32, 0, [3, 5, 7, 11], nDims: 5), "5 dimensions");
        Refused(OneTensor(GgmlType.F32, 0, [], nDims: 0), "0 dimensions");
        Refused(OneTensor((GgmlType)5, 0, [4]), "unsupported type 5");
        Refused(OneTensor(GgmlType.IQ2_XXS, 0, [256]), "unsupported type IQ2_XXS");
        Refused(OneTensor(GgmlType.Q8_0, 0, [33]), "block size");
        Refused(OneTensor(GgmlType.F32, 3, [4]), "not aligned");
        Refused(OneTensor(GgmlType.F32, 0, [17]), "past the end");
        Refused(OneTensor(GgmlType.F32, 64, [1]), "past the end");
        Refused(OneTensor(GgmlType.F32, ulong.MaxValue - 31, [4]), "past the end");
        Refused(OneTensor(GgmlType.F32, 1UL << 63, [4]), "past the end");
        var dup = new RawGguf().Header(3, 2, 0).TensorInfo("t", GgmlType.F32, 0, 1).TensorInfo("t", GgmlType.F32, 0, 1).Pad().Bytes(new byte[32]);
        Refused(dup.ToArray(), "duplicate tensor");
    }

    [Fact]
    public void AcceptsTensorDataThatEndsExactlyAtEndOfFile()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("ok.gguf"), OneTensor(GgmlType.F32, 0, [16]));
        using var f = GgufFile.Open(dir.File("ok.gguf"));
        Assert.Equal(f.FileLength, f.DataOffset + f.GetTensor("t").ByteSize);
    }

    [Fact]
    public void MissingFileIsAModelFormatException()
    {
        var ex = Assert.Throws<ModelFormatException>(() => GgufFile.Open("/nonexistent/dir/x.gguf"));
        Assert.Contains("x.gguf", ex.Message);
    }
}
