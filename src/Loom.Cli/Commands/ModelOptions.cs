using System.CommandLine;
using Loom.Models;

namespace Loom.Cli.Commands;

/// <summary>Options every model-loading command shares, and loading with progress.</summary>
internal static class ModelOptions
{
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "Model: a .gguf file, a Hugging Face directory (config.json, *.safetensors, tokenizer.json) or a llama2.c .bin",
        Required = true,
    };

    public static Option<string?> Tokenizer() => new("--tokenizer")
    {
        Description = "Tokenizer for llama2.c checkpoints (default: tokenizer.bin or tok*.bin beside the model)",
    };

    public static Option<int?> Threads() => new Option<int?>("--threads", "-t")
    {
        Description = "Compute threads (default: all cores)",
    }.InRange(1, CliChecks.MaxThreads);

    /// <summary>
    /// Loads the model with its progress on stderr (see <see cref="CliProgress"/>; none when <paramref name="quiet"/>),
    /// paging the weights in unless <paramref name="prefetch"/> is off, so the first token does not pay for it.
    /// </summary>
    public static LoadedModel Load(ParseResult parse, string path, string? tokenizer, bool quiet, bool prefetch = true) =>
        CliProgress.Run(parse, $"loading {Path.GetFileName(path.TrimEnd('/', Path.DirectorySeparatorChar))}", quiet, progress =>
            ModelLoader.Load(path, new ModelLoadOptions { TokenizerPath = tokenizer, Prefetch = prefetch, Progress = progress }));
}
