using System.Runtime.InteropServices;
using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Formats.Gguf;
using Loom.Models.Formats.Llama2c;
using Loom.Tests;

namespace Loom.Models.Tests;

public class Llama2cCheckpointTests
{
    private static string Bin => SharedData.Path("models/stories260K/stories260K.bin");
    private static string Q8 => SharedData.Path("models/stories260K/stories260K-q8.bin");
    private static string Gguf => SharedData.Path("models/stories260K/stories260K.gguf");

    private static ReadOnlySpan<float> Floats(WeightTensor t) => MemoryMarshal.Cast<byte, float>(t.Bytes);

    [SharedFact]
    public void Stories260KConfigMatchesHeader()
    {
        var (c, w) = Llama2cCheckpoint.Load(Bin);
        using var _ = w;
        Assert.Equal(("llama", 64, 172, 5, 8, 4, 512, 512), (c.Architecture, c.Dim, c.FfnDim, c.NumLayers, c.NumHeads, c.NumKvHeads, c.VocabSize, c.ContextLength));
        Assert.Equal((8, 8, RopeStyle.Interleaved, 1e-5f, 10000f), (c.HeadDim, c.RopeDim, c.RopeStyle, c.RmsNormEps, c.RopeTheta));
        Assert.True(c.TiedEmbeddings);
        Assert.Same(w.TokenEmbedding, w.Output);
        Assert.False(c.QkvBias || c.QkNorm);
    }

    [SharedFact]
    public void Stories260KTensorsAreBitIdenticalToTheGguf()
    {
        var (_, w) = Llama2cCheckpoint.Load(Bin);
        using var __ = w;
        using var g = GgufFile.Open(Gguf);
        var compared = new HashSet<string>();
        foreach (var t in w.All())
        {
            var expected = g.GetTensor(t.Name);
            Assert.Equal(expected.Shape, t.Shape);
            Assert.Equal(expected.Type, t.Type);
            Assert.True(expected.Bytes.SequenceEqual(t.Bytes), $"{t.Name} differs");
            compared.Add(t.Name);
        }
        Assert.True(g.GetTensor("output.weight").Bytes.SequenceEqual(w.Output.Bytes));
        compared.Add("output.weight");
        Assert.Equal(g.Tensors.Select(t => t.Name).Order(), compared.Order());
        // The loader must have wired each role to the right tensor, not just produced the right set.
        Assert.Equal("blk.3.ffn_down.weight", w.Layers[3].WDown.Name);
        Assert.Equal("blk.4.ffn_gate.weight", w.Layers[4].WGate.Name);
        Assert.Equal("blk.0.attn_output.weight", w.Layers[0].Wo.Name);
    }

    [SharedFact]
    public void Q8DequantizesCloseToFp32AndNormsExactly()
    {
        var (cq, q) = Llama2cCheckpoint.Load(Q8);
        var (cf, f) = Llama2cCheckpoint.Load(Bin);
        using var _ = q; using var __ = f;
        Assert.Equal(cf with { RopeFreqFactors = null }, cq with { RopeFreqFactors = null });
        var fp = f.All().ToDictionary(t => t.Name);
        int n = 0;
        foreach (var t in q.All())
        {
            var reference = fp[t.Name];
            Assert.Equal(reference.Shape, t.Shape);
            Assert.Equal(GgmlType.F32, t.Type);
            ReadOnlySpan<float> a = Floats(t), b = Floats(reference);
            if (t.Shape.Length == 1)
            {
                Assert.True(a.SequenceEqual(b), $"norm {t.Name} is not exact");
                continue;
            }
            float max = 0, err = 0;
            for (int i = 0; i < b.Length; i++) { max = Math.Max(max, Math.Abs(b[i])); err = Math.Max(err, Math.Abs(a[i] - b[i])); }
            Assert.True(err <= 0.005f * max, $"{t.Name}: error {err} vs max {max}");
            Assert.True(err > 0, $"{t.Name} is exact, so it was not quantized?");
            n++;
        }
        Assert.Equal(1 + 5 * 7, n);
    }

    /// <summary>Re-writes the legacy file as an export v1 file with a separate classifier.</summary>
    private static byte[] ToVersion1(byte[] v0, out float[] classifier)
    {
        var hdr = MemoryMarshal.Cast<byte, int>(v0.AsSpan(0, 28)).ToArray();
        int d = hdr[0], h = hdr[1], L = hdr[2], heads = hdr[3], kvHeads = hdr[4], v = hdr[5], seq = hdr[6];
        int kv = d / heads * kvHeads;
        var all = MemoryMarshal.Cast<byte, float>(v0.AsSpan(28)).ToArray();
        int pos = 0;
        float[] Take(int n) { var r = all.AsSpan(pos, n).ToArray(); pos += n; return r; }
        var emb = Take(v * d); var att = Take(L * d); var wq = Take(L * d * d); var wk = Take(L * d * kv); var wv = Take(L * d * kv);
        var wo = Take(L * d * d); var ffn = Take(L * d); var w1 = Take(L * d * h); var w2 = Take(L * h * d); var w3 = Take(L * d * h); var fin = Take(d);
        classifier = emb.Select(x => -2 * x).ToArray();
        var header = new byte[256];
        BitConverter.GetBytes(0x616b3432u).CopyTo(header, 0);
        BitConverter.GetBytes(1).CopyTo(header, 4);
        MemoryMarshal.AsBytes(hdr.AsSpan()).CopyTo(header.AsSpan(8));
        header[36] = 0; // separate classifier
        float[] body = [.. att, .. ffn, .. fin, .. emb, .. wq, .. wk, .. wv, .. wo, .. w1, .. w2, .. w3, .. classifier];
        return [.. header, .. MemoryMarshal.AsBytes(body.AsSpan())];
    }

    [SharedFact]
    public void Version1WithSeparateClassifierLoadsTheSameTensors()
    {
        using var dir = new TempDir();
        var v1 = ToVersion1(File.ReadAllBytes(Bin), out var classifier);
        File.WriteAllBytes(dir.File("v1.bin"), v1);
        var (c1, w1) = Llama2cCheckpoint.Load(dir.File("v1.bin"));
        var (c0, w0) = Llama2cCheckpoint.Load(Bin);
        using var _ = w1; using var __ = w0;
        Assert.False(c1.TiedEmbeddings);
        Assert.Equal(c0 with { TiedEmbeddings = false }, c1);
        var reference = w0.All().ToDictionary(t => t.Name);
        foreach (var t in w1.All().Where(t => t.Name != "output.weight"))
            Assert.True(reference[t.Name].Bytes.SequenceEqual(t.Bytes), $"{t.Name} differs");
        Assert.Equal(classifier, Floats(w1.Output).ToArray());
        Assert.NotSame(w1.TokenEmbedding, w1.Output);
    }

    [SharedFact]
    public void LegacyNegativeVocabMeansSeparateClassifier()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Bin);
        BitConverter.GetBytes(-512).CopyTo(bytes, 20);
        var cls = Enumerable.Range(0, 512 * 64).Select(i => (float)i).ToArray();
        File.WriteAllBytes(dir.File("sep.bin"), [.. bytes, .. MemoryMarshal.AsBytes(cls.AsSpan())]);
        var (c, w) = Llama2cCheckpoint.Load(dir.File("sep.bin"));
        using var _ = w;
        Assert.False(c.TiedEmbeddings);
        Assert.Equal(512, c.VocabSize);
        Assert.Equal(cls, Floats(w.Output).ToArray());
        // Without the classifier bytes it is truncated.
        File.WriteAllBytes(dir.File("short.bin"), bytes);
        Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Load(dir.File("short.bin")));
    }

    [SharedTheory]
    [InlineData("stories260K/stories260K.bin")]
    [InlineData("stories260K/stories260K-q8.bin")]
    public void TruncatedFilesAreRefused(string file)
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(SharedData.Path("models/" + file));
        foreach (int keep in new[] { 0, 3, 27, 100, 255, bytes.Length / 2, bytes.Length - 1 })
        {
            File.WriteAllBytes(dir.File("t.bin"), bytes[..keep]);
            var e = Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Load(dir.File("t.bin")));
            Assert.Equal(dir.File("t.bin"), e.FilePath);
        }
    }

    [SharedTheory]
    [InlineData(0, 1 << 30)]   // dim absurd
    [InlineData(0, -64)]       // dim negative
    [InlineData(4, 0)]         // hidden_dim zero
    [InlineData(8, 100000)]    // layers absurd
    [InlineData(12, 7)]        // heads do not divide dim
    [InlineData(16, 3)]        // kv heads do not divide heads
    [InlineData(20, int.MinValue)]
    [InlineData(24, -1)]       // seq_len
    [InlineData(24, 1 << 20)]  // seq_len so large the freq tables run past the end
    public void AbsurdHeadersAreRefused(int offset, int value)
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Bin);
        BitConverter.GetBytes(value).CopyTo(bytes, offset);
        File.WriteAllBytes(dir.File("h.bin"), bytes);
        Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Load(dir.File("h.bin")));
    }

    [SharedFact]
    public void BadExportHeadersAreRefused()
    {
        using var dir = new TempDir();
        var q8 = File.ReadAllBytes(Q8);
        void Refused(Action<byte[]> mutate)
        {
            var m = (byte[])q8.Clone();
            mutate(m);
            File.WriteAllBytes(dir.File("q.bin"), m);
            Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Load(dir.File("q.bin")));
        }
        Refused(m => BitConverter.GetBytes(3).CopyTo(m, 4));   // unknown version
        Refused(m => BitConverter.GetBytes(0).CopyTo(m, 37));  // group size 0
        Refused(m => BitConverter.GetBytes(-8).CopyTo(m, 37));
        Refused(m => BitConverter.GetBytes(7).CopyTo(m, 37));  // does not divide the tensors
        Refused(m => m[36] = 5);                                // shared flag not a bool
        Refused(m => m[36] = 0);                                // separate classifier, which the file lacks
    }

    [SharedFact]
    public void RandomHeadersEitherLoadOrFailCleanly()
    {
        using var dir = new TempDir();
        var bin = File.ReadAllBytes(Bin);
        var q8 = File.ReadAllBytes(Q8);
        var rng = new Random(42);
        int loaded = 0;
        for (int n = 0; n < 300; n++)
        {
            var m = (byte[])(n % 2 == 0 ? bin : q8).Clone();
            int headerInts = n % 2 == 0 ? 7 : 10;
            int at = (n % 2 == 0 ? 0 : 8) + 4 * rng.Next(headerInts);
            int value = rng.Next(4) switch { 0 => rng.Next(), 1 => -rng.Next(1000), 2 => rng.Next(1, 600), _ => BitConverter.ToInt32(m, at) ^ (1 << rng.Next(31)) };
            BitConverter.GetBytes(value).CopyTo(m, Math.Min(at, m.Length - 4));
            File.WriteAllBytes(dir.File("r.bin"), m);
            try
            {
                var (c, w) = Llama2cCheckpoint.Load(dir.File("r.bin"));
                using var _ = w;
                c.Validate("x");
                foreach (var t in w.All()) { float s = 0; foreach (var x in Floats(t)) s += x; }
                loaded++;
            }
            catch (ModelFormatException) { }
        }
        Assert.True(loaded > 0);
    }
}
