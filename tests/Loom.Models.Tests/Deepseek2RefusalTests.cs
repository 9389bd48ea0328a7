using Loom.Core.Tensors;
using Loom.Models.Formats.Gguf;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>Malformed deepseek2 headers are refused with a <see cref="ModelFormatException"/> naming the key or tensor.</summary>
public class Deepseek2RefusalTests
{
    /// <summary>Copies a valid deepseek2-tiny, dropping or setting one metadata key or dropping one tensor.</summary>
    private static string Rewrite(TempDir dir, string? dropKey = null, (string Key, object Value)? set = null, string? dropTensor = null)
    {
        string ok = dir.File("ok.gguf"), bad = dir.File("bad.gguf");
        SyntheticModel.Write(ok, SyntheticModelSpec.Deepseek2Tiny, GgmlType.F32, seed: 1);
        using var f = GgufFile.Open(ok);
        var w = new GgufWriter();
        foreach (var (k, v) in f.Metadata)
            if (k != dropKey) w.Add(k, set is { } s && s.Key == k ? s.Value : v);
        if (set is { } n && !f.Metadata.ContainsKey(n.Key)) w.Add(n.Key, n.Value);
        foreach (var t in f.Tensors)
            if (t.Name != dropTensor) w.AddTensor(t.Name, t.Type, t.Shape, f.GetTensor(t.Name).Bytes.ToArray());
        w.Write(bad);
        return bad;
    }

    [Theory]
    [InlineData("deepseek2.attention.kv_lora_rank", "missing metadata 'deepseek2.attention.kv_lora_rank'")]
    [InlineData("deepseek2.leading_dense_block_count", "missing metadata 'deepseek2.leading_dense_block_count'")]
    [InlineData("deepseek2.rope.scaling.yarn_log_multiplier", "missing metadata 'deepseek2.rope.scaling.yarn_log_multiplier'")]
    [InlineData("deepseek2.expert_shared_count", "missing metadata 'deepseek2.expert_shared_count'")]
    [InlineData("deepseek2.expert_weights_scale", "missing metadata 'deepseek2.expert_weights_scale'")]
    [InlineData("deepseek2.attention.value_length", "missing metadata 'deepseek2.attention.value_length'")]
    [InlineData("deepseek2.attention.key_length", "missing metadata 'deepseek2.attention.key_length'")]
    [InlineData("deepseek2.attention.q_lora_rank", "tensor 'blk.0.attn_q_a.weight' needs metadata 'deepseek2.attention.q_lora_rank'")]
    [InlineData("deepseek2.expert_count", "deepseek2 needs metadata 'deepseek2.expert_count'")]
    public void MissingKeyIsNamed(string key, string message)
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(Rewrite(dir, dropKey: key)));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("deepseek2.attention.kv_lora_rank", 64u, "tensor 'blk.0.attn_kv_a_mqa.weight' has shape [64, 48], expected [64, 80]")]
    [InlineData("deepseek2.attention.q_lora_rank", 16u, "tensor 'blk.0.attn_q_a.weight' has shape [64, 32], expected [64, 16]")]
    [InlineData("deepseek2.leading_dense_block_count", 3u, "metadata 'deepseek2.leading_dense_block_count' = 3 is out of range (0 to 2)")]
    [InlineData("deepseek2.expert_gating_func", 3u, "metadata 'deepseek2.expert_gating_func' = 3 is out of range (0 to 2)")]
    [InlineData("deepseek2.rope.dimension_count", 32u, "'deepseek2.rope.dimension_count' = 32 must be even and below 'deepseek2.attention.key_length' = 32")]
    [InlineData("deepseek2.attention.value_length", 0u, "metadata 'deepseek2.attention.value_length' = 0 is out of range")]
    [InlineData("deepseek2.attention.value_length", 8u, "tensor 'blk.0.attn_kv_b.weight' has shape [32, 128], expected [32, 96]")]
    [InlineData("deepseek2.expert_group_count", 3u, "metadata 'deepseek2.expert_group_count' = 3 does not divide 8 experts")]
    [InlineData("deepseek2.rope.scaling.yarn_log_multiplier", float.NaN, "metadata 'deepseek2.rope.scaling.yarn_log_multiplier' = NaN is not finite")]
    [InlineData("deepseek2.rope.scaling.type", "longrope", "rope scaling 'longrope' is not supported")]
    public void BadValueIsNamed(string key, object value, string message)
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(Rewrite(dir, set: (key, value))));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("blk.1.attn_kv_a_norm.weight")]
    [InlineData("blk.0.ffn_up.weight")]
    [InlineData("blk.2.ffn_down_shexp.weight")]
    [InlineData("blk.1.attn_q_b.weight")]
    public void MissingTensorIsNamed(string tensor)
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(Rewrite(dir, dropTensor: tensor)));
        Assert.Contains($"missing tensor '{tensor}'", e.Message);
    }
}
