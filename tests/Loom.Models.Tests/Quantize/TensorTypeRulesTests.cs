using Loom.Core.Tensors;
using Loom.Models.Quantize;

namespace Loom.Models.Tests.Quantize;

public class TensorTypeRulesTests
{
    // TinyLlama 1.1B: 22 layers, 32 heads, 4 KV heads, untied output.
    private static readonly QuantizationModelInfo TinyLlama = new("llama", 22, 32, 4, 0, HasOutput: true, NumAttentionV: 22);
    // Qwen2.5 0.5B: rows of 896 fit no K-quant block; tied embeddings.
    private static readonly QuantizationModelInfo Qwen = new("qwen2", 24, 14, 2, 0, HasOutput: false, NumAttentionV: 24);

    private static GgmlType Type(LlamaFileType f, QuantizationModelInfo m, string name, long cols, long rows, bool pure = false) =>
        new TensorTypeRules(f, m, pure).Choose(name, [cols, rows], GgmlType.F32);

    [Fact]
    public void Q4KMGivesAttnVAndFfnDownQ6KInTheLayersLlamaCppPicks()
    {
        // llama-quantize's TinyLlama Q4_K_M has 21 Q6_K tensors: output plus attn_v and ffn_down in these ten layers.
        int[] moreBits = [0, 1, 4, 7, 10, 13, 16, 19, 20, 21];
        for (int l = 0; l < 22; l++)
        {
            var expected = moreBits.Contains(l) ? GgmlType.Q6_K : GgmlType.Q4_K;
            Assert.Equal(expected, Type(LlamaFileType.Q4_K_M, TinyLlama, $"blk.{l}.attn_v.weight", 2048, 256));
            Assert.Equal(expected, Type(LlamaFileType.Q4_K_M, TinyLlama, $"blk.{l}.ffn_down.weight", 5632, 2048));
            Assert.Equal(GgmlType.Q4_K, Type(LlamaFileType.Q4_K_M, TinyLlama, $"blk.{l}.attn_q.weight", 2048, 2048));
            Assert.Equal(GgmlType.Q4_K, Type(LlamaFileType.Q4_K_M, TinyLlama, $"blk.{l}.ffn_up.weight", 2048, 5632));
        }
        Assert.Equal(GgmlType.Q6_K, Type(LlamaFileType.Q4_K_M, TinyLlama, "output.weight", 2048, 32000));
        Assert.Equal(GgmlType.Q4_K, Type(LlamaFileType.Q4_K_M, TinyLlama, "token_embd.weight", 2048, 32000));
    }

    [Fact]
    public void UseMoreBitsMatchesLlamaCppFor32Layers()
    {
        var expected = new[] { 0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31 };
        Assert.Equal(expected, Enumerable.Range(0, 32).Where(l => TensorTypeRules.UseMoreBits(l, 32)));
    }

    [Fact]
    public void NormsAndBiasesAreNeverQuantized()
    {
        var rules = new TensorTypeRules(LlamaFileType.Q4_0, TinyLlama);
        Assert.Equal(GgmlType.F32, rules.Choose("blk.0.attn_norm.weight", [2048], GgmlType.F32));
        Assert.Equal(GgmlType.F32, rules.Choose("blk.0.attn_q.bias", [2048], GgmlType.F32));
        Assert.Equal(GgmlType.F16, rules.Choose("blk.0.attn_q_norm.weight", [64, 1], GgmlType.F16)); // [64, 1] counts as 1-D
        Assert.False(TensorTypeRules.IsQuantizable("blk.0.ffn_norm.weight", [2048, 4]));
        Assert.True(TensorTypeRules.IsQuantizable("blk.0.ffn_up.weight", [2048, 4]));
    }

    [Theory]
    [InlineData(LlamaFileType.Q4_0, GgmlType.Q4_0, GgmlType.Q6_K)]
    [InlineData(LlamaFileType.Q4_1, GgmlType.Q4_1, GgmlType.Q6_K)]
    [InlineData(LlamaFileType.Q5_0, GgmlType.Q5_0, GgmlType.Q6_K)]
    [InlineData(LlamaFileType.Q8_0, GgmlType.Q8_0, GgmlType.Q8_0)]
    [InlineData(LlamaFileType.Q6_K, GgmlType.Q6_K, GgmlType.Q6_K)]
    [InlineData(LlamaFileType.F16, GgmlType.F16, GgmlType.F16)]
    [InlineData(LlamaFileType.BF16, GgmlType.BF16, GgmlType.BF16)]
    [InlineData(LlamaFileType.F32, GgmlType.F32, GgmlType.F32)]
    public void OutputGetsQ6KUnlessTheMixIsQ8OrFloat(LlamaFileType f, GgmlType matrices, GgmlType output)
    {
        Assert.Equal(matrices, Type(f, TinyLlama, "blk.3.attn_q.weight", 2048, 2048));
        Assert.Equal(matrices, Type(f, TinyLlama, "blk.3.ffn_down.weight", 5632, 2048));
        Assert.Equal(output, Type(f, TinyLlama, "output.weight", 2048, 32000));
        Assert.Equal(matrices, Type(f, TinyLlama, "token_embd.weight", 2048, 32000));
    }

    [Fact]
    public void PureKeepsTheDefaultTypeEverywhere()
    {
        Assert.Equal(GgmlType.Q4_0, Type(LlamaFileType.Q4_0, TinyLlama, "output.weight", 2048, 32000, pure: true));
        Assert.Equal(GgmlType.Q4_K, Type(LlamaFileType.Q4_K_M, TinyLlama, "blk.0.attn_v.weight", 2048, 256, pure: true));
        Assert.Throws<ArgumentException>(() => Type(LlamaFileType.Q4_K_M, Qwen, "blk.0.attn_q.weight", 896, 896, pure: true));
    }

    [Fact]
    public void TiedEmbeddingsAreTreatedAsTheOutputAndOddRowsFallBack()
    {
        // Rows of 896: Q4_K -> Q5_0, Q6_K -> Q8_0, and the tied embeddings take the output's Q8_0 (896 % 256 != 0).
        Assert.Equal(GgmlType.Q8_0, Type(LlamaFileType.Q4_K_M, Qwen, "token_embd.weight", 896, 151936));
        Assert.Equal(GgmlType.Q5_0, Type(LlamaFileType.Q4_K_M, Qwen, "blk.5.attn_q.weight", 896, 896));
        Assert.Equal(GgmlType.Q8_0, Type(LlamaFileType.Q4_K_M, Qwen, "blk.0.attn_v.weight", 896, 128));
        Assert.Equal(GgmlType.Q5_0, Type(LlamaFileType.Q4_K_M, Qwen, "blk.4.attn_v.weight", 896, 128));
        // ffn_down's rows are 4864 = 19 × 256, so it keeps the K-quants.
        Assert.Equal(GgmlType.Q6_K, Type(LlamaFileType.Q4_K_M, Qwen, "blk.0.ffn_down.weight", 4864, 896));
        Assert.Equal(GgmlType.Q4_K, Type(LlamaFileType.Q4_K_M, Qwen, "blk.4.ffn_down.weight", 4864, 896));
        Assert.Equal(GgmlType.Q5_1, Type(LlamaFileType.Q5_K_M, Qwen, "blk.5.attn_q.weight", 896, 896));
        Assert.Equal(GgmlType.Q8_0, Type(LlamaFileType.Q6_K, Qwen, "blk.5.attn_q.weight", 896, 896));
        Assert.Equal(GgmlType.Q6_K, Type(LlamaFileType.Q4_0, Qwen, "token_embd.weight", 896 * 2, 100));
        Assert.Throws<NotSupportedException>(() => Type(LlamaFileType.Q2_K, Qwen, "blk.5.attn_q.weight", 896, 896));
        Assert.Throws<ArgumentException>(() => Type(LlamaFileType.Q4_0, Qwen, "blk.5.attn_q.weight", 900, 896));
    }

    [Fact]
    public void SmallAndLowBitMixesFollowTheirRules()
    {
        // Q4_K_S: attn_v Q5_K in the first four layers, ffn_down Q5_K in the first eighth.
        Assert.Equal(GgmlType.Q5_K, Type(LlamaFileType.Q4_K_S, TinyLlama, "blk.3.attn_v.weight", 2048, 256));
        Assert.Equal(GgmlType.Q4_K, Type(LlamaFileType.Q4_K_S, TinyLlama, "blk.4.attn_v.weight", 2048, 256));
        Assert.Equal(GgmlType.Q5_K, Type(LlamaFileType.Q4_K_S, TinyLlama, "blk.1.ffn_down.weight", 5632, 2048));
        Assert.Equal(GgmlType.Q4_K, Type(LlamaFileType.Q4_K_S, TinyLlama, "blk.2.ffn_down.weight", 5632, 2048));
        // Q3_K_M: attn_v Q5_K then Q4_K, attn_output Q4_K, ffn_down Q5_K in the first sixteenth else Q4_K.
        Assert.Equal(GgmlType.Q5_K, Type(LlamaFileType.Q3_K_M, TinyLlama, "blk.1.attn_v.weight", 2048, 256));
        Assert.Equal(GgmlType.Q4_K, Type(LlamaFileType.Q3_K_M, TinyLlama, "blk.2.attn_v.weight", 2048, 256));
        Assert.Equal(GgmlType.Q4_K, Type(LlamaFileType.Q3_K_M, TinyLlama, "blk.2.attn_output.weight", 2048, 2048));
        Assert.Equal(GgmlType.Q5_K, Type(LlamaFileType.Q3_K_M, TinyLlama, "blk.0.ffn_down.weight", 5632, 2048));
        Assert.Equal(GgmlType.Q4_K, Type(LlamaFileType.Q3_K_M, TinyLlama, "blk.9.ffn_down.weight", 5632, 2048));
        Assert.Equal(GgmlType.Q3_K, Type(LlamaFileType.Q3_K_M, TinyLlama, "blk.9.ffn_up.weight", 2048, 5632));
        // Q2_K: attn_v Q4_K with 8 query heads per KV head, Q3_K with fewer.
        Assert.Equal(GgmlType.Q4_K, Type(LlamaFileType.Q2_K, TinyLlama, "blk.9.attn_v.weight", 2048, 256));
        Assert.Equal(GgmlType.Q3_K, Type(LlamaFileType.Q2_K, TinyLlama with { NumKvHeads = 32 }, "blk.9.attn_v.weight", 2048, 2048));
        Assert.Equal(GgmlType.Q2_K, Type(LlamaFileType.Q2_K, TinyLlama, "blk.9.attn_q.weight", 2048, 2048));
        // A 70B's attn_v gets Q5_K instead of Q4_K.
        var big = new QuantizationModelInfo("llama", 80, 64, 8, 0, true, 80);
        Assert.Equal(GgmlType.Q5_K, Type(LlamaFileType.Q4_K_M, big, "blk.40.attn_v.weight", 8192, 1024));
        Assert.Equal(GgmlType.Q6_K, Type(LlamaFileType.Q4_K_M, big, "blk.0.attn_v.weight", 8192, 1024));
    }

    [Theory]
    [InlineData("Q4_K_M", LlamaFileType.Q4_K_M)]
    [InlineData("q4_k_m", LlamaFileType.Q4_K_M)]
    [InlineData("Q4_K", LlamaFileType.Q4_K_M)]
    [InlineData("q8_0", LlamaFileType.Q8_0)]
    [InlineData("F16", LlamaFileType.F16)]
    public void ParsesLlamaQuantizeNames(string name, LlamaFileType expected) => Assert.Equal(expected, LlamaFileTypes.Parse(name));

    [Theory]
    [InlineData("Q9_0")]
    [InlineData("2")]
    [InlineData("Q4_0,Q4_1")]
    [InlineData("")]
    public void RejectsUnknownNames(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => LlamaFileTypes.Parse(name));
        Assert.Contains("Q4_K_M", e.Message);
    }

    [Fact]
    public void FileTypeNumbersAreLlamaCpps()
    {
        Assert.Equal(15, (int)LlamaFileType.Q4_K_M);
        Assert.Equal(7, (int)LlamaFileType.Q8_0);
        Assert.Equal(18, (int)LlamaFileType.Q6_K);
        Assert.Equal(LlamaFileType.Q5_K_M, LlamaFileTypes.FromValue(17));
        Assert.Null(LlamaFileTypes.FromValue(19));
    }
}
