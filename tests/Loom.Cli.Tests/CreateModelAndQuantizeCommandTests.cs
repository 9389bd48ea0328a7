using Loom.Core.Tensors;
using Loom.Models;
using Loom.Models.Formats.Gguf;

namespace Loom.Cli.Tests;

public class CreateModelAndQuantizeCommandTests
{
    [Fact]
    public void CreateModelWritesALoadableModelOfTheShapeAndType()
    {
        using var dir = new TempDir();
        var (code, _, err) = CliRunner.Run("create-model", "--shape", "tiny", "--type", "Q8_0", "--seed", "3", dir.File("t.gguf"));
        Assert.True(code == 0, err);
        Assert.Contains("tiny Q8_0", err);
        using (var f = GgufFile.Open(dir.File("t.gguf")))
        {
            Assert.Equal(7u, f.Metadata["general.file_type"]);
            Assert.Equal(GgmlType.Q8_0, f.FindTensor("blk.0.attn_q.weight")!.Type);
            Assert.Equal(GgmlType.Q8_0, f.FindTensor("output.weight")!.Type);
            Assert.Equal(64u, f.Metadata["llama.embedding_length"]);
        }
        using var m = ModelLoader.Load(dir.File("t.gguf"));
        Assert.Equal(2, m.Config.NumLayers);
        // The same seed gives the same file.
        CliRunner.Run("create-model", "--shape", "tiny", "--type", "Q8_0", "--seed", "3", dir.File("u.gguf"));
        Assert.Equal(File.ReadAllBytes(dir.File("t.gguf")), File.ReadAllBytes(dir.File("u.gguf")));
    }

    /// <summary>
    /// <c>--embed</c> puts a trained model's weights in a shape: the file has the shape's layers and widths and the
    /// source's tokens; a shape too small for the source is refused, saying what does not fit.
    /// </summary>
    [Fact]
    public void CreateModelEmbedsASmallerModelOrSaysWhyNot()
    {
        using var dir = new TempDir();
        Assert.Equal(0, CliRunner.Run("create-model", "--shape", "tiny", "--type", "F32", "--seed", "5", dir.File("src.gguf")).Code);
        var (code, _, err) = CliRunner.Run("create-model", "--shape", "tiny", "--type", "Q8_0", "--embed", dir.File("src.gguf"), dir.File("e.gguf"));
        Assert.True(code == 0, err);
        using (var f = GgufFile.Open(dir.File("e.gguf")))
        {
            Assert.Equal(GgmlType.Q8_0, f.FindTensor("blk.1.ffn_up.weight")!.Type);
            Assert.StartsWith("tiny embedding ", (string)f.Metadata["general.name"]);
        }
        string Run(string model) => CliRunner.Run("run", "-m", model, "-p", "hello", "-n", "12", "--temp", "0", "--ignore-eos").Out;
        Assert.Equal(Run(dir.File("src.gguf")), Run(dir.File("e.gguf")));

        (code, _, err) = CliRunner.Run("create-model", "--shape", "tiny", "--embed", Loom.Tests.RepoModels.Stories260K, dir.File("x.gguf"));
        Assert.NotEqual(0, code);
        Assert.Contains("cannot hold stories260K.gguf: layers 2 < 5", err);
        Assert.False(File.Exists(dir.File("x.gguf")) && new FileInfo(dir.File("x.gguf")).Length > 0, "a refused embedding writes nothing");
    }

    /// <summary>An MoE shape is written as llama.cpp's converter writes it (F32 router, 3-D experts), and inspect shows its experts.</summary>
    [Theory]
    [InlineData("qwen2moe-tiny", "qwen2moe", "8 routed, 2 used per token, ffn 64 each, 1 shared (ffn 128, sigmoid-gated)", "GQA (2 query heads per KV head)")]
    [InlineData("olmoe-tiny", "olmoe", "8 routed, 2 used per token, ffn 64 each, no shared; weights as softmax gives them", "MHA")]
    [InlineData("mixtral-tiny", "llama", "4 routed, 2 used per token, ffn 128 each, no shared; weights renormalized", "GQA")]
    [InlineData("deepseek2-tiny", "deepseek2", "8 routed, 2 used per token, ffn 32 each, 1 shared (ffn 32 together, ungated); weights as softmax gives them, scaled 2; the first 1 layer(s) dense (ffn 128)",
        "MLA (latent attention): kv_lora_rank 32, rope dim 16, nope dim 16, v dim 16, q lora rank 32")]
    public void CreateModelWritesMixtureOfExpertsShapesThatInspectDescribes(string shape, string arch, string experts, string attention)
    {
        using var dir = new TempDir();
        var (code, _, err) = CliRunner.Run("create-model", "--shape", shape, "--type", "Q8_0", dir.File("m.gguf"));
        Assert.True(code == 0, err);
        using (var f = GgufFile.Open(dir.File("m.gguf")))
        {
            Assert.Equal(arch, f.Metadata["general.architecture"]);
            Assert.Equal(GgmlType.F32, f.FindTensor($"blk.{(arch == "deepseek2" ? 1 : 0)}.ffn_gate_inp.weight")!.Type);
            var up = f.FindTensor("blk.1.ffn_up_exps.weight")!;
            Assert.Equal(GgmlType.Q8_0, up.Type);
            Assert.Equal(3, up.Shape.Length);
            Assert.Null(f.FindTensor("blk.1.ffn_up.weight"));
        }
        var (icode, output, ierr) = CliRunner.Run("inspect", "--no-tensors", dir.File("m.gguf"));
        Assert.True(icode == 0, ierr);
        Assert.Contains($"experts:       {experts}", output);
        Assert.Contains($"attention:     {attention}", output);
    }

    /// <summary>phi3-tiny is written fused (attn_qkv, gate-and-up ffn_up, rope factor tensors); inspect shows the views and LongRoPE's choice.</summary>
    [Fact]
    public void CreateModelWritesPhi3ThatInspectDescribes()
    {
        using var dir = new TempDir();
        var (code, _, err) = CliRunner.Run("create-model", "--shape", "phi3-tiny", "--type", "Q8_0", dir.File("p.gguf"));
        Assert.True(code == 0, err);
        using (var f = GgufFile.Open(dir.File("p.gguf")))
        {
            Assert.Equal("phi3", f.Metadata["general.architecture"]);
            Assert.Equal([64L, 128L], f.FindTensor("blk.0.attn_qkv.weight")!.Shape);
            Assert.Equal([64L, 256L], f.FindTensor("blk.0.ffn_up.weight")!.Shape);
            Assert.Equal(GgmlType.F32, f.FindTensor("rope_factors_long.weight")!.Type);
            Assert.Null(f.FindTensor("blk.0.attn_q.weight"));
        }
        var (icode, output, ierr) = CliRunner.Run("inspect", dir.File("p.gguf"));
        Assert.True(icode == 0, ierr);
        Assert.Contains("rope scaling:  LongRoPE, original context 128: long factors at context 256, attention factor 1.069045", output);
        Assert.Contains("fused:         Q/K/V in attn_qkv, gate/up in ffn_up (split into row views)", output);
        Assert.Contains("blk.0.attn_qkv.weight[64:96]", output);
        var (scode, shortOutput, serr) = CliRunner.Run("inspect", "--no-tensors", "--ctx-size", "128", dir.File("p.gguf"));
        Assert.True(scode == 0, serr);
        Assert.Contains("short factors at context 128", shortOutput);
    }

    [Fact]
    public void QuantizeConvertsAGeneratedF32Model()
    {
        using var dir = new TempDir();
        Assert.Equal(0, CliRunner.Run("create-model", "--shape", "tiny", "--type", "F32", dir.File("f32.gguf")).Code);
        var (code, _, err) = CliRunner.Run("quantize", dir.File("f32.gguf"), dir.File("q.gguf"), "q4_0", "-t", "1");
        Assert.True(code == 0, err);
        Assert.Contains("Q4_0", err);
        using var f = GgufFile.Open(dir.File("q.gguf"));
        Assert.Equal(2u, f.Metadata["general.file_type"]);
        Assert.Equal(GgmlType.Q4_0, f.FindTensor("blk.1.ffn_down.weight")!.Type);
        // The classifier would get Q6_K, but rows of 64 fit no K-quant block: llama.cpp falls back to Q8_0.
        Assert.Equal(GgmlType.Q8_0, f.FindTensor("output.weight")!.Type);
        Assert.Equal(GgmlType.F32, f.FindTensor("blk.0.attn_norm.weight")!.Type);
    }

    [Theory]
    [InlineData("create-model", "--shape", "gpt-5", "--type", "Q4_0", "OUT")]
    [InlineData("create-model", "--shape", "tiny", "--type", "Q9_9", "OUT")]
    [InlineData("create-model", "--shape", "tiny", "--type", "Q4_K_M", "--pure", "OUT")] // rows of 64 fit no K-quant block
    [InlineData("create-model", "--shape", "tiny", "--type", "Q2_K", "OUT")] // llama.cpp would fall back to IQ4_NL
    [InlineData("quantize", "MISSING", "OUT", "Q4_0")]
    [InlineData("quantize", "JUNK", "OUT", "Q4_0")]
    [InlineData("quantize", "JUNK", "OUT", "Q4_Z")]
    public void BadArgumentsGiveOneLineErrors(params string[] args)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("junk.gguf"), "not a model");
        args = args.Select(a => a switch { "OUT" => dir.File("o.gguf"), "MISSING" => dir.File("missing.gguf"), "JUNK" => dir.File("junk.gguf"), _ => a }).ToArray();
        var (code, stdout, err) = CliRunner.Run(args);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("loom: ", lines[0]);
        Assert.False(File.Exists(dir.File("o.gguf")));
    }
}
