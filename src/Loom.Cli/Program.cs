using System.CommandLine;
using Loom.Cli.Commands;

var root = new RootCommand("Loom: LLM inference and serving in .NET. Runs GGUF, Hugging Face safetensors and llama2.c models on the CPU.")
{
    RunCommand.Create(),
    InspectCommand.Create(),
    new Command("bench", "Benchmarks") { BenchThroughputCommand.Create() },
};
var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
try
{
    return await root.Parse(args).InvokeAsync(config);
}
catch (Exception e) when (e is Loom.Models.ModelFormatException or ArgumentException or IOException or InvalidOperationException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"loom: {e.Message}");
    return 1;
}
