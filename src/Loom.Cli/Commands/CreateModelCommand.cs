using System.CommandLine;
using Loom.Models.Architectures;
using Loom.Models.Quantize;
using Loom.Models.Synthetic;

namespace Loom.Cli.Commands;

/// <summary><c>loom create-model</c>: a random-weight model with the shapes of a real checkpoint, for speed and memory measurements.</summary>
internal static class CreateModelCommand
{
    private static readonly SyntheticModelSpec[] Shapes =
    [
        SyntheticModelSpec.TinyLlama1_1B, SyntheticModelSpec.Llama3_2_1B, SyntheticModelSpec.Qwen2_5_0_5B,
        SyntheticModelSpec.Stories110M, SyntheticModelSpec.Tiny with { Name = "tiny" },
        SyntheticModelSpec.MixtralTiny, SyntheticModelSpec.Qwen2MoeTiny, SyntheticModelSpec.Qwen3MoeTiny, SyntheticModelSpec.OlmoeTiny,
        SyntheticModelSpec.Olmoe1B7B, SyntheticModelSpec.Deepseek2Tiny, SyntheticModelSpec.Deepseek2Lite, SyntheticModelSpec.Phi3Tiny, SyntheticModelSpec.Phi3Mini, SyntheticModelSpec.Gemma2Tiny, SyntheticModelSpec.Gemma3Tiny,
    ];

    public static Command Create()
    {
        var output = new Argument<string>("output") { Description = "The .gguf file to write" };
        var shape = new Option<string>("--shape") { Description = $"Model shape: {string.Join(", ", Shapes.Select(s => s.Name))}", Required = true };
        var type = new Option<string>("--type") { Description = $"Quantization, as llama-quantize names it: {LlamaFileTypes.Names}", DefaultValueFactory = _ => "Q4_0" };
        var seed = new Option<int>("--seed") { Description = "Seed of the random weights (same seed, same file)", DefaultValueFactory = _ => 0 };
        var pure = new Option<bool>("--pure") { Description = "Give every weight the type's default tensor type, without llama-quantize's per-tensor mix" };
        var embed = new Option<string?>("--embed")
        {
            Description = "Instead of random weights, a smaller trained llama GGUF zero-padded into the shape (its tokenizer, vocabulary and context): "
                + "the shape's cost per pass with the small model's tokens, for measuring speculative decoding (dense llama shapes)",
        };
        var cmd = new Command("create-model", "Write a random-weight GGUF with the shapes of a real model (for benchmarks; llama.cpp loads it too)")
        {
            output, shape, type, seed, pure, embed,
        };
        cmd.SetAction(parse =>
        {
            string name = parse.GetValue(shape)!;
            var spec = Shapes.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
                ?? throw new ArgumentException($"unknown shape '{name}' (expected one of {string.Join(", ", Shapes.Select(s => s.Name))})");
            var fileType = LlamaFileTypes.Parse(parse.GetValue(type)!);
            string path = parse.GetValue(output)!;
            CliProgress.Run(parse, $"writing {Path.GetFileName(path)}", quiet: false, progress =>
            {
                if (parse.GetValue(embed) is { } source) EmbeddedModel.Write(path, source, spec, fileType, parse.GetValue(pure), progress);
                else SyntheticModel.Write(path, spec, fileType, parse.GetValue(seed), parse.GetValue(pure), progress);
                return 0;
            });
            Console.Error.WriteLine($"wrote {path}: {spec.Name} {fileType}, {new FileInfo(path).Length / 1048576.0:F1} MiB");
            return 0;
        });
        return cmd;
    }
}
