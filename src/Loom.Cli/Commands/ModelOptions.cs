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
    /// <c>--ctx-size</c>, on every command that loads a model: the longest sequence to serve, below the model's own
    /// context (llama.cpp's <c>-c</c>). LongRoPE models (Phi-3 128k) pick their rope factors by it, as llama.cpp does.
    /// </summary>
    public static readonly Option<int?> ContextSize = new Option<int?>("--ctx-size")
    {
        Description = "Longest sequence to serve (default: the model's context); LongRoPE models (Phi-3 128k) choose their rope factors by it, as llama.cpp does",
        Recursive = true,
    }.InRange(1, Loom.Models.Architectures.ModelLimits.MaxContext);

    /// <summary>
    /// Loads the model with its progress on stderr (see <see cref="CliProgress"/>; none when <paramref name="quiet"/>),
    /// paging the weights in unless <paramref name="prefetch"/> is off, so the first token does not pay for it.
    /// </summary>
    public static LoadedModel Load(ParseResult parse, string path, string? tokenizer, bool quiet, bool prefetch = true) =>
        CliProgress.Run(parse, $"loading {Path.GetFileName(path.TrimEnd('/', Path.DirectorySeparatorChar))}", quiet, progress =>
            ModelLoader.Load(path, new ModelLoadOptions
            {
                TokenizerPath = tokenizer, Prefetch = prefetch, Progress = progress, ContextLength = parse.GetValue(ContextSize),
            }));
}
