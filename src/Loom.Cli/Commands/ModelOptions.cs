using System.CommandLine;
using Loom.Models;
using Spectre.Console;

namespace Loom.Cli.Commands;

/// <summary>Options every model-loading command shares, and loading with a progress bar on a terminal.</summary>
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

    /// <summary>Loads the model, showing a progress bar while its weights are paged in when stderr is a terminal.</summary>
    public static LoadedModel Load(string path, string? tokenizer, bool quiet)
    {
        if (quiet || Console.IsErrorRedirected)
            return ModelLoader.Load(path, new ModelLoadOptions { TokenizerPath = tokenizer });
        LoadedModel? model = null;
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Progress().AutoClear(true).Start(ctx =>
        {
            var task = ctx.AddTask($"loading {Path.GetFileName(path.TrimEnd('/'))}", maxValue: 1.0);
            model = ModelLoader.Load(path, new ModelLoadOptions { TokenizerPath = tokenizer, Progress = new Progress<double>(v => task.Value = v) });
            task.Value = 1.0;
        });
        return model!;
    }
}
