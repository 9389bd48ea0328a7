using System.Runtime.InteropServices;
using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Formats.SafeTensors;
using Loom.Models.Formats.Gguf;
using Loom.Tests;

namespace Loom.Models.Tests;

/// <summary>
/// TinyStories-656K in HF format against llama.cpp's F16 conversion of it: proves the loader reads the
/// right tensors in the right orientation, and pins down how the two RoPE layouts relate.
/// </summary>
public class HfModelTinyStoriesTests
{
    private static string Dir => RepoModels.TinyStories656K;

    [Fact]
    public void ConfigMatchesSources()
    {
        var (c, w) = HfModelLoader.Load(Dir);
        using var _ = w;
        Assert.Equal(("llama", 128, 384, 2, 8, 4, 16, 2048, 512), (c.Architecture, c.Dim, c.FfnDim, c.NumLayers, c.NumHeads, c.NumKvHeads, c.HeadDim, c.VocabSize, c.ContextLength));
        Assert.Equal((1e-6f, 10000f, 16, RopeStyle.NeoX, 1f), (c.RmsNormEps, c.RopeTheta, c.RopeDim, c.RopeStyle, c.RopeFreqScale));
        Assert.True(c.TiedEmbeddings);
        Assert.Null(c.RopeFreqFactors);
        Assert.False(c.QkvBias || c.QkNorm);
        Assert.Same(w.TokenEmbedding, w.Output);
        Assert.Equal("lm_head.weight", w.TokenEmbedding.Name); // the file stores only lm_head
        Assert.Equal(c, HfModelLoader.ReadConfig(Path.Combine(Dir, "config.json")));
    }

    /// <summary>
    /// llama.cpp's converter reorders Q/K rows within each head from rotate-half order (pairs (i, i + d/2))
    /// to interleaved order (pairs (2i, 2i+1)): GGUF row 2i + j of a head is HF row j·d/2 + i.
    /// </summary>
    internal static int HfRowOfGgufRow(int ggufRow, int headDim)
    {
        int head = ggufRow / headDim, within = ggufRow % headDim;
        return head * headDim + within % 2 * (headDim / 2) + within / 2;
    }

    private static ushort[] F16Bits(WeightTensor ours, Func<int, int> sourceRow)
    {
        var result = new ushort[ours.ElementCount];
        for (int r = 0; r < ours.Rows; r++)
        {
            var row = MemoryMarshal.Cast<byte, float>(ours.Row(sourceRow(r)));
            for (int c = 0; c < row.Length; c++) result[r * ours.Cols + c] = BitConverter.HalfToUInt16Bits((Half)row[c]);
        }
        return result;
    }

    private static void AssertF16Equal(WeightTensor expected, WeightTensor ours, Func<int, int> sourceRow)
    {
        Assert.Equal(GgmlType.F16, expected.Type);
        Assert.Equal(GgmlType.F32, ours.Type);
        Assert.Equal(expected.Shape, ours.Shape);
        var want = MemoryMarshal.Cast<byte, ushort>(expected.Bytes).ToArray();
        Assert.True(want.SequenceEqual(F16Bits(ours, sourceRow)), $"{expected.Name} differs from {ours.Name}");
    }

    [SharedFact]
    public void WeightsRoundedToF16EqualLlamaCppConversion()
    {
        var (c, w) = HfModelLoader.Load(Dir);
        using var _ = w;
        using var g = GgufFile.Open(SharedData.Path("models/tinystories-656k/TinyStories-656K.f16.gguf"));
        Func<int, int> same = r => r;
        Func<int, int> rope = r => HfRowOfGgufRow(r, c.HeadDim);

        AssertF16Equal(g.GetTensor("token_embd.weight"), w.TokenEmbedding, same);
        Assert.True(g.GetTensor("output_norm.weight").Bytes.SequenceEqual(w.OutputNorm.Bytes));
        for (int l = 0; l < c.NumLayers; l++)
        {
            var L = w.Layers[l];
            string p = $"blk.{l}.";
            Assert.True(g.GetTensor(p + "attn_norm.weight").Bytes.SequenceEqual(L.AttnNorm.Bytes));
            Assert.True(g.GetTensor(p + "ffn_norm.weight").Bytes.SequenceEqual(L.FfnNorm.Bytes));
            AssertF16Equal(g.GetTensor(p + "attn_q.weight"), L.Wq, rope);
            AssertF16Equal(g.GetTensor(p + "attn_k.weight"), L.Wk, rope);
            AssertF16Equal(g.GetTensor(p + "attn_v.weight"), L.Wv, same);
            AssertF16Equal(g.GetTensor(p + "attn_output.weight"), L.Wo, same);
            AssertF16Equal(g.GetTensor(p + "ffn_gate.weight"), L.WGate, same);
            AssertF16Equal(g.GetTensor(p + "ffn_up.weight"), L.WUp, same);
            AssertF16Equal(g.GetTensor(p + "ffn_down.weight"), L.WDown, same);
        }
        Assert.Equal(g.Tensors.Count, 1 + 1 + c.NumLayers * 9);

        // Without the permutation Q does not match: the layouts really differ.
        var q = g.GetTensor("blk.0.attn_q.weight");
        Assert.False(MemoryMarshal.Cast<byte, ushort>(q.Bytes).SequenceEqual(F16Bits(w.Layers[0].Wq, same)));
    }

    [Fact]
    public void PermutationPairsRotateHalfPartnersAsAdjacentRows()
    {
        // Head dim 8: HF pairs (0,4), (1,5), (2,6), (3,7) become GGUF rows (0,1), (2,3), (4,5), (6,7).
        Assert.Equal([0, 4, 1, 5, 2, 6, 3, 7], Enumerable.Range(0, 8).Select(r => HfRowOfGgufRow(r, 8)));
        Assert.Equal([8, 12, 9, 13, 10, 14, 11, 15], Enumerable.Range(8, 8).Select(r => HfRowOfGgufRow(r, 8)));
    }
}
