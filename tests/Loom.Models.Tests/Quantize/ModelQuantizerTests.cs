using System.Runtime.InteropServices;
using Loom.Core.Quantization;
using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Formats.Gguf;
using Loom.Models.Quantize;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests.Quantize;

public class ModelQuantizerTests
{
    // Rows of 256 and 512 take every K-quant; eight layers give use_more_bits both answers.
    private static readonly SyntheticModelSpec Spec = SyntheticModelSpec.Tiny with { Dim = 256, FfnDim = 512, NumLayers = 8, NumHeads = 4, NumKvHeads = 2 };

    private static string WriteF32(TempDir dir, SyntheticModelSpec? spec = null)
    {
        var path = dir.File("f32.gguf");
        SyntheticModel.Write(path, spec ?? Spec, GgmlType.F32, seed: 5);
        return path;
    }

    /// <summary>What a quantized tensor must hold: the original floats through ggml's file quantizer for its type.</summary>
    private static byte[] Expected(WeightTensor original, GgmlType type)
    {
        var floats = MemoryMarshal.Cast<byte, float>(original.Bytes).ToArray();
        var bytes = new byte[TypeTraits.RowSize(type, original.Cols) * original.Rows];
        if (type == GgmlType.Q8_0) Q8_0.QuantizeReference(floats, bytes);
        else Quants.Quantize(type, floats, bytes);
        return bytes;
    }

    [Theory]
    [InlineData(LlamaFileType.Q4_K_M)]
    [InlineData(LlamaFileType.Q4_0)]
    [InlineData(LlamaFileType.Q8_0)]
    [InlineData(LlamaFileType.Q6_K)]
    [InlineData(LlamaFileType.Q5_K_M)]
    [InlineData(LlamaFileType.F16)]
    public void TensorsAreTheReferenceQuantizationOfTheOriginalsWithLlamaCppsTypes(LlamaFileType fileType)
    {
        using var dir = new TempDir();
        var src = WriteF32(dir);
        var result = ModelQuantizer.Quantize(src, dir.File("q.gguf"), new ModelQuantizeOptions { FileType = fileType, Threads = 2 });
        using var input = GgufFile.Open(src);
        using var output = GgufFile.Open(dir.File("q.gguf"));
        var rules = new TensorTypeRules(fileType, QuantizationModelInfo.FromGguf(input));

        Assert.Equal(input.Tensors.Count, output.Tensors.Count);
        Assert.Equal(output.Tensors.Select(t => t.Name), result.Select(r => r.Name));
        foreach (var t in output.Tensors)
        {
            var original = input.GetTensor(t.Name);
            Assert.Equal(original.Shape, t.Shape);
            Assert.Equal(rules.Choose(t.Name, t.Shape, GgmlType.F32), t.Type);
            if (original.Shape.Length == 1) Assert.Equal(GgmlType.F32, t.Type);
            var expected = t.Type == GgmlType.F32 ? original.Bytes.ToArray() : Expected(original, t.Type);
            Assert.True(expected.AsSpan().SequenceEqual(output.GetTensor(t.Name).Bytes), $"{t.Name} ({t.Type}) differs");
        }
        if (fileType == LlamaFileType.Q4_K_M)
        {
            // 8 layers: use_more_bits picks layers 0, 3, 6, 7 for attn_v and ffn_down.
            foreach (int l in new[] { 0, 3, 6, 7 })
            {
                Assert.Equal(GgmlType.Q6_K, output.FindTensor($"blk.{l}.attn_v.weight")!.Type);
                Assert.Equal(GgmlType.Q6_K, output.FindTensor($"blk.{l}.ffn_down.weight")!.Type);
            }
            Assert.Equal(GgmlType.Q4_K, output.FindTensor("blk.1.attn_v.weight")!.Type);
            Assert.Equal(GgmlType.Q4_K, output.FindTensor("blk.2.ffn_down.weight")!.Type);
            Assert.Equal(GgmlType.Q6_K, output.FindTensor("output.weight")!.Type);
            Assert.Equal(GgmlType.Q4_K, output.FindTensor("token_embd.weight")!.Type);
        }
    }

    [Fact]
    public void CopiesMetadataSetsTheFileTypeAndWritesLlamaCppsTensorOrder()
    {
        using var dir = new TempDir();
        var src = WriteF32(dir, Spec with { NumLayers = 12 });
        ModelQuantizer.Quantize(src, dir.File("q.gguf"), new ModelQuantizeOptions { FileType = LlamaFileType.Q4_K_M });
        using var input = GgufFile.Open(src);
        using var output = GgufFile.Open(dir.File("q.gguf"));
        Assert.Equal(input.Metadata.Keys.Order(), output.Metadata.Keys.Order());
        Assert.Equal(["general.quantization_version", "general.file_type"], output.Metadata.Keys.TakeLast(2));
        foreach (var (key, value) in input.Metadata)
        {
            if (key == "general.file_type") Assert.Equal(15u, output.Metadata[key]);
            else if (value is GgufArray a) Assert.Equal(a.Values, ((GgufArray)output.Metadata[key]).Values);
            else Assert.Equal(value, output.Metadata[key]);
        }
        var names = output.Tensors.Select(t => t.Name).ToList();
        Assert.Equal(["output.weight", "output_norm.weight", "token_embd.weight", "blk.0.attn_k.weight"], names.Take(4));
        Assert.True(names.IndexOf("blk.2.ffn_up.weight") < names.IndexOf("blk.10.attn_k.weight"), "blocks must be in numeric order");
        Assert.Equal(names.Order(ModelQuantizer.LlamaCppTensorOrder.Instance), names);
    }

    [Theory]
    // Random weights amplify rounding through the layers (measured: Q8_0 0.03, Q4_K_M 0.29); unrelated logits of
    // the same size would be ~1.4 apart, so these bounds still catch a wrong quantization.
    [InlineData(LlamaFileType.Q8_0, 0.1)]
    [InlineData(LlamaFileType.Q4_K_M, 0.6)]
    public void QuantizedModelLoadsAndRunsCloseToTheOriginal(LlamaFileType fileType, double tolerance)
    {
        using var dir = new TempDir();
        var src = WriteF32(dir);
        ModelQuantizer.Quantize(src, dir.File("q.gguf"), new ModelQuantizeOptions { FileType = fileType });
        using var original = ModelLoader.Load(src);
        using var quantized = ModelLoader.Load(dir.File("q.gguf"));
        Assert.Equal(original.Config.Dim, quantized.Config.Dim);
        int[] prompt = [1, 300, 301, 302, 303];
        var a = Logits(original, prompt);
        var b = Logits(quantized, prompt);
        Assert.All(b, v => Assert.True(float.IsFinite(v)));
        double diff = 0, norm = 0;
        for (int i = 0; i < a.Length; i++) { diff += (a[i] - b[i]) * (a[i] - b[i]); norm += a[i] * (double)a[i]; }
        double relative = Math.Sqrt(diff / norm);
        Assert.True(relative < tolerance, $"relative logit error {relative:G3}");
        Assert.True(relative > 0, "quantization should change the logits a little");
    }

    /// <summary>Logits after the prompt and after each of four decode steps of fixed tokens, concatenated.</summary>
    internal static float[] Logits(LoadedModel m, int[] prompt)
    {
        var c = m.Config;
        using var cache = new KvCache(c.NumLayers, m.Transformer.KvDim, 4, 16);
        int[] table = [0, 1, 2, 3];
        var batch = new ForwardBatch();
        var logits = new float[c.VocabSize];
        var all = new List<float>();
        batch.Add(prompt, 0, table);
        m.Transformer.Forward(batch, cache, logits);
        all.AddRange(logits);
        for (int step = 0; step < 4; step++)
        {
            batch.Clear();
            batch.Add([400 + step], prompt.Length + step, table);
            m.Transformer.Forward(batch, cache, logits);
            all.AddRange(logits);
        }
        return all.ToArray();
    }

    [Fact]
    public void RefusesToRequantizeUnlessAllowed()
    {
        using var dir = new TempDir();
        var src = WriteF32(dir);
        ModelQuantizer.Quantize(src, dir.File("q8.gguf"), new ModelQuantizeOptions { FileType = LlamaFileType.Q8_0 });
        var e = Assert.Throws<ArgumentException>(() =>
            ModelQuantizer.Quantize(dir.File("q8.gguf"), dir.File("q4.gguf"), new ModelQuantizeOptions { FileType = LlamaFileType.Q4_0 }));
        Assert.Contains("already Q8_0", e.Message);
        Assert.False(File.Exists(dir.File("q4.gguf")));
        ModelQuantizer.Quantize(dir.File("q8.gguf"), dir.File("q4.gguf"), new ModelQuantizeOptions { FileType = LlamaFileType.Q4_0, AllowRequantize = true });
        using var q4 = GgufFile.Open(dir.File("q4.gguf"));
        Assert.Equal(GgmlType.Q4_0, q4.FindTensor("blk.0.attn_q.weight")!.Type);
        // Same type as the input: copied, not requantized, so no permission is needed.
        ModelQuantizer.Quantize(dir.File("q8.gguf"), dir.File("q8b.gguf"), new ModelQuantizeOptions { FileType = LlamaFileType.Q8_0 });
        Assert.Equal(File.ReadAllBytes(dir.File("q8.gguf")).Length, File.ReadAllBytes(dir.File("q8b.gguf")).Length);
    }

    [Fact]
    public void RefusesBadInputsWithClearErrors()
    {
        using var dir = new TempDir();
        var src = WriteF32(dir);
        Assert.Throws<ArgumentException>(() => ModelQuantizer.Quantize(src, src, new ModelQuantizeOptions { FileType = LlamaFileType.Q4_0 }));
        Assert.Throws<ModelFormatException>(() => ModelQuantizer.Quantize(dir.File("missing.gguf"), dir.File("o.gguf"), new ModelQuantizeOptions { FileType = LlamaFileType.Q4_0 }));
        File.WriteAllText(dir.File("junk.gguf"), "not a model");
        Assert.Throws<ModelFormatException>(() => ModelQuantizer.Quantize(dir.File("junk.gguf"), dir.File("o.gguf"), new ModelQuantizeOptions { FileType = LlamaFileType.Q4_0 }));
        // Tiny's rows of 64 fit no K-quant: Q2_K would need IQ4_NL.
        var tiny = dir.File("tiny.gguf");
        SyntheticModel.Write(tiny, SyntheticModelSpec.Tiny, GgmlType.F32);
        Assert.Throws<NotSupportedException>(() => ModelQuantizer.Quantize(tiny, dir.File("o.gguf"), new ModelQuantizeOptions { FileType = LlamaFileType.Q2_K }));
        Assert.False(File.Exists(dir.File("o.gguf")));
    }

    [Fact]
    public void StreamsInsteadOfHoldingTheModel()
    {
        using var dir = new TempDir();
        var src = WriteF32(dir, Spec with { VocabSize = 16384, NumLayers = 2 });
        long before = GC.GetAllocatedBytesForCurrentThread();
        ModelQuantizer.Quantize(src, dir.File("q.gguf"), new ModelQuantizeOptions { FileType = LlamaFileType.Q8_0, Threads = 1 });
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long size = new FileInfo(src).Length;
        Assert.True(size > 16L << 20, $"input is only {size} bytes");
        Assert.True(allocated < size / 2, $"allocated {allocated >> 20} MiB quantizing a {size >> 20} MiB model");
    }

    [Fact]
    public void SyntheticMixesMatchQuantizingTheF32Model()
    {
        using var dir = new TempDir();
        var src = WriteF32(dir);
        ModelQuantizer.Quantize(src, dir.File("q.gguf"), new ModelQuantizeOptions { FileType = LlamaFileType.Q4_K_M });
        SyntheticModel.Write(dir.File("s.gguf"), Spec, LlamaFileType.Q4_K_M, seed: 5);
        using var quantized = GgufFile.Open(dir.File("q.gguf"));
        using var synthetic = GgufFile.Open(dir.File("s.gguf"));
        Assert.Equal(15u, synthetic.Metadata["general.file_type"]);
        foreach (var t in synthetic.Tensors)
        {
            Assert.Equal(quantized.FindTensor(t.Name)!.Type, t.Type);
            Assert.True(quantized.GetTensor(t.Name).Bytes.SequenceEqual(synthetic.GetTensor(t.Name).Bytes), t.Name);
        }
    }
}
