using Loom.Core.Tensors;
using Loom.Models.Synthetic;
using Loom.Models.Tests;
using Loom.Tests;

namespace Loom.Cli.Tests;

/// <summary>
/// <c>inspect</c> and <c>run</c> on Hugging Face directories of a mixture of experts and of a Gemma: synthetic models
/// written as the checkpoints llama.cpp's converter would read, with TinyStories-656K's tokenizer (2048 tokens).
/// </summary>
public class HfArchitectureCommandTests
{
    private static string WriteHf(TempDir dir, SyntheticModelSpec spec)
    {
        spec = spec with { VocabSize = 2048 };
        string gguf = dir.File("m.gguf"), hf = Directory.CreateDirectory(dir.File("hf")).FullName;
        SyntheticModel.Write(gguf, spec, GgmlType.F32);
        HfCheckpointFromGguf.Write(gguf, spec, hf);
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(RepoModels.TinyStories656K, f), Path.Combine(hf, f));
        return hf;
    }

    [Theory]
    [InlineData("mixtral-tiny", "architecture:  llama", "experts:       4 routed, 2 used per token, ffn 128 each, no shared")]
    [InlineData("qwen2moe-tiny", "architecture:  qwen2moe", "experts:       8 routed, 2 used per token, ffn 64 each, 1 shared (ffn 128, sigmoid-gated)")]
    [InlineData("gemma2-tiny", "architecture:  gemma2", "sliding:       window 16 on 13 of 26 layers; layers LGLGLGLGLGLGLGLGLGLGLGLGLG")]
    [InlineData("gemma3-tiny", "architecture:  gemma3", "sliding:       window 16 on 7 of 8 layers, local rope theta 10000; layers LLLLLGLL")]
    public void InspectAndRunAnHfDirectory(string shape, string arch, string line)
    {
        using var dir = new TempDir();
        string hf = WriteHf(dir, shape switch
        {
            "mixtral-tiny" => SyntheticModelSpec.MixtralTiny,
            "qwen2moe-tiny" => SyntheticModelSpec.Qwen2MoeTiny,
            "gemma2-tiny" => SyntheticModelSpec.Gemma2Tiny,
            _ => SyntheticModelSpec.Gemma3Tiny,
        });
        var (code, output, err) = CliRunner.Run("inspect", hf);
        Assert.True(code == 0, err);
        Assert.Contains("(safetensors)", output);
        Assert.Contains(arch, output);
        Assert.Contains(line, output);

        var (rcode, text, rerr) = CliRunner.Run("run", "-m", hf, "-p", "Once upon a time", "-n", "12", "--temp", "0", "--ignore-eos");
        Assert.True(rcode == 0, rerr);
        // run prints only the continuation; a random model's greedy text is nonsense, but it must be some.
        Assert.False(string.IsNullOrWhiteSpace(text), rerr);
    }
}
