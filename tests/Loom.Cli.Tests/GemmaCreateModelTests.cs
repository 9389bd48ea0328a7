using Loom.Models.Formats.Gguf;

namespace Loom.Cli.Tests;

/// <summary><c>create-model</c> writes the Gemma shapes as llama.cpp's converter does, and <c>inspect</c> shows their sliding window.</summary>
public class GemmaCreateModelTests
{
    [Theory]
    [InlineData("gemma2-tiny", "gemma2", "window 16 on 13 of 26 layers; layers LGLGLGLGLGLGLGLGLGLGLGLGLG", "soft-caps:     attention 2.5, logits 5")]
    [InlineData("gemma3-tiny", "gemma3", "window 16 on 7 of 8 layers, local rope theta 10000; layers LLLLLGLL", null)]
    public void CreateModelWritesGemmaShapesThatInspectDescribes(string shape, string arch, string sliding, string? softcaps)
    {
        using var dir = new TempDir();
        var (code, _, err) = CliRunner.Run("create-model", "--shape", shape, "--type", "F16", dir.File("m.gguf"));
        Assert.True(code == 0, err);
        using (var f = GgufFile.Open(dir.File("m.gguf")))
        {
            Assert.Equal(arch, f.Metadata["general.architecture"]);
            Assert.Equal(16u, f.Metadata[$"{arch}.attention.sliding_window"]);
            Assert.NotNull(f.FindTensor("blk.0.post_attention_norm.weight"));
            Assert.NotNull(f.FindTensor("blk.0.post_ffw_norm.weight"));
            Assert.Null(f.FindTensor("output.weight"));
        }
        var (icode, output, ierr) = CliRunner.Run("inspect", "--no-tensors", dir.File("m.gguf"));
        Assert.True(icode == 0, ierr);
        Assert.Contains($"sliding:       {sliding}", output);
        if (softcaps is not null) Assert.Contains(softcaps, output);
        else Assert.DoesNotContain("soft-caps:", output);
    }
}
