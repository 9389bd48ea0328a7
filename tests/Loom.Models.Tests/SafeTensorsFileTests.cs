using System.Buffers.Binary;
using System.Text;
using Loom.Core.Tensors;
using Loom.Models.Formats.SafeTensors;

namespace Loom.Models.Tests;

public class SafeTensorsFileTests
{
    private static StTensor[] Sample() =>
    [
        StTensor.F32("a", [2, 3], [1, 2, 3, 4, 5, 6]),
        new("h", "F16", [4], [.. BitConverter.GetBytes((Half)1.5f), .. BitConverter.GetBytes((Half)(-2f)), 0, 0, 0, 0]),
        new("b", "BF16", [2], [0x80, 0x3f, 0x00, 0x40]), // 1.0, 2.0
        new("i", "I64", [1], new byte[8]),
    ];

    [Fact]
    public void ReadsTensorsInGgmlOrder()
    {
        using var dir = new TempDir();
        SafeTensorsTestWriter.Write(dir.File("m.safetensors"), Sample(), new Dictionary<string, string> { ["format"] = "pt" });
        using var f = SafeTensorsFile.Open(dir.File("m.safetensors"));
        Assert.Equal(["a", "h", "b", "i"], f.TensorNames);
        Assert.Equal("pt", f.Metadata["format"]);
        var a = f.GetTensor("a");
        Assert.Equal(GgmlType.F32, a.Type);
        Assert.Equal([3L, 2L], a.Shape); // row-major [2, 3] becomes ggml [3, 2]
        Assert.Equal(2, a.Rows);
        Assert.Equal(new float[] { 4, 5, 6 }, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(a.Row(1)).ToArray());
        var h = f.GetTensor("h");
        Assert.Equal(GgmlType.F16, h.Type);
        Assert.Equal(-2f, (float)BitConverter.ToHalf(h.Bytes[2..]));
        var b = f.GetTensor("b");
        Assert.Equal(GgmlType.BF16, b.Type);
        Assert.Equal(2f, Loom.Core.Quantization.FloatFormats.BF16ToF32(BinaryPrimitives.ReadUInt16LittleEndian(b.Bytes[2..])));
        Assert.Same(a, f.GetTensor("a"));
        var e = Assert.Throws<ModelFormatException>(() => f.GetTensor("i"));
        Assert.Contains("I64", e.Message);
        Assert.Throws<ModelFormatException>(() => f.GetTensor("nope"));
    }

    private static byte[] WithHeader(string json, int dataBytes) => WithHeader(Encoding.UTF8.GetBytes(json), dataBytes);

    private static byte[] WithHeader(byte[] j, int dataBytes)
    {
        var bytes = new byte[8 + j.Length + dataBytes];
        BitConverter.GetBytes((ulong)j.Length).CopyTo(bytes, 0);
        j.CopyTo(bytes, 8);
        return bytes;
    }

    public static TheoryData<string, byte[]> CorruptFiles()
    {
        var good = SafeTensorsTestWriter.Build(Sample());
        var absurd = (byte[])good.Clone();
        BitConverter.GetBytes(ulong.MaxValue - 3).CopyTo(absurd, 0);
        var pastEnd = (byte[])good.Clone();
        BitConverter.GetBytes((ulong)good.Length).CopyTo(pastEnd, 0);
        return new TheoryData<string, byte[]>
        {
            { "empty", [] },
            { "shorter than the length prefix", [1, 2, 3] },
            { "truncated data", good[..^5] },
            { "header length absurd", absurd },
            { "header length past the end", pastEnd },
            { "garbage JSON", WithHeader("{\"a\": {\"dtype\": \"F32\", ", 0) },
            { "not an object", WithHeader("[1, 2, 3]", 0) },
            { "invalid UTF-8", WithHeader([.. "{\"a\":{\"dtype\":\""u8, 0xff, 0xfe, .. "\",\"shape\":[0],\"data_offsets\":[0,0]}}"u8], 0) },
            { "offsets past the end", WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4) },
            { "offsets reversed", WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4) },
            { "size does not match shape", WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8) },
            { "unknown dtype", WithHeader("{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8) },
            { "negative dimension", WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8) },
            { "overflowing shape", WithHeader("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8) },
            { "offsets not numbers", WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",8]}}", 8) },
            { "missing data_offsets", WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8) },
            { "metadata not strings", WithHeader("{\"__metadata__\":{\"x\":1}}", 0) },
            { "duplicate tensor", WithHeader("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1) },
        };
    }

    [Theory]
    [MemberData(nameof(CorruptFiles))]
    public void RefusesCorruptFiles(string what, byte[] bytes)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Equal(path, e.FilePath);
        Assert.False(string.IsNullOrEmpty(what));
    }

    [Fact]
    public void MissingFileIsAFormatError() =>
        Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open("/nonexistent/loom/x.safetensors"));

    [Fact]
    public void MutantsEitherOpenOrFailCleanly()
    {
        var good = SafeTensorsTestWriter.Build(Sample(), new Dictionary<string, string> { ["format"] = "pt" });
        int headerEnd = 8 + (int)BitConverter.ToUInt64(good, 0);
        var rng = new Random(1234);
        using var dir = new TempDir();
        int opened = 0, refused = 0;
        for (int n = 0; n < 400; n++)
        {
            var m = (byte[])good.Clone();
            switch (n % 4)
            {
                case 0: // flip bytes, mostly in the header where parsing happens
                    for (int k = rng.Next(1, 4); k > 0; k--) m[rng.Next(headerEnd)] ^= (byte)rng.Next(1, 256);
                    break;
                case 1: // replace a digit, which moves offsets and shapes
                    var digits = Enumerable.Range(8, headerEnd - 8).Where(i => m[i] is >= (byte)'0' and <= (byte)'9').ToArray();
                    m[digits[rng.Next(digits.Length)]] = (byte)('0' + rng.Next(10));
                    break;
                case 2: // truncate
                    m = m[..rng.Next(m.Length)];
                    break;
                default: // perturb the length prefix
                    BitConverter.GetBytes((ulong)(headerEnd - 8 + rng.Next(-40, 40))).CopyTo(m, 0);
                    break;
            }
            string path = dir.File($"m{n}.safetensors");
            File.WriteAllBytes(path, m);
            try
            {
                using var f = SafeTensorsFile.Open(path);
                foreach (var name in f.TensorNames)
                {
                    try
                    {
                        var t = f.GetTensor(name);
                        long sum = 0;
                        foreach (var b in t.Bytes) sum += b; // every byte of the view must be readable
                        Assert.True(sum >= 0);
                    }
                    catch (ModelFormatException) { }
                }
                opened++;
            }
            catch (ModelFormatException) { refused++; }
            File.Delete(path);
        }
        Assert.True(opened > 0 && refused > 0, $"opened {opened}, refused {refused}");
    }
}
