using System.CommandLine;
using Loom.Models.Quantize;

namespace Loom.Cli.Commands;

/// <summary><c>loom quantize</c>: rewrite a GGUF model with quantized weights, choosing tensor types as llama-quantize does.</summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("input") { Description = "The .gguf model to read (F32, F16 or BF16 weights)" };
        var output = new Argument<string>("output") { Description = "The .gguf file to write" };
        var type = new Argument<string>("type") { Description = $"Target: {LlamaFileTypes.Names}" };
        var pure = new Option<bool>("--pure") { Description = "Give every weight the type's default tensor type, without the per-tensor mix" };
        var requantize = new Option<bool>("--allow-requantize") { Description = "Accept already quantized weights (quality suffers)" };
        var threads = ModelOptions.Threads();
        var cmd = new Command("quantize", "Quantize a GGUF model (Q4_0, Q8_0, Q4_K_M, Q6_K, ...), tensor types chosen as llama-quantize chooses them")
        {
            input, output, type, pure, requantize, threads,
        };
        cmd.SetAction(parse =>
        {
            var options = new ModelQuantizeOptions
            {
                FileType = LlamaFileTypes.Parse(parse.GetValue(type)!),
                Pure = parse.GetValue(pure),
                AllowRequantize = parse.GetValue(requantize),
                Threads = parse.GetValue(threads),
            };
            string inPath = parse.GetValue(input)!, outPath = parse.GetValue(output)!;
            IReadOnlyList<QuantizedTensor> tensors;
            try
            {
                tensors = CliProgress.Run(parse, $"quantizing to {options.FileType}", quiet: false,
                    progress => ModelQuantizer.Quantize(inPath, outPath, options, progress));
            }
            catch (NotSupportedException e) { throw new ArgumentException(e.Message, e); }
            long before = tensors.Sum(t => t.BytesIn), after = tensors.Sum(t => t.BytesOut);
            var counts = tensors.GroupBy(t => t.To).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}");
            Console.Error.WriteLine($"wrote {outPath}: {options.FileType}, {tensors.Count} tensors ({string.Join(", ", counts)}), {before / 1048576.0:F1} MiB -> {after / 1048576.0:F1} MiB");
            return 0;
        });
        return cmd;
    }
}
