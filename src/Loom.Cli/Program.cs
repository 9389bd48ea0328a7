using System.CommandLine;
using Loom.Cli;
using Loom.Cli.Commands;

var verbose = new Option<bool>("--verbose")
{
    Description = "On an error, print the exception's type and stack trace as well as its one-line message",
    Recursive = true,
};
var root = new RootCommand("Loom: LLM inference and serving in .NET. Runs GGUF, Hugging Face safetensors and llama2.c models on the CPU.")
{
    RunCommand.Create(),
    InspectCommand.Create(),
    ServeCommand.Create(),
    CreateModelCommand.Create(),
    QuantizeCommand.Create(),
    BenchCommand.Create(),
};
root.Options.Add(verbose);
root.Options.Add(CliProgress.Option);
root.Options.Add(ModelOptions.ContextSize);

ParseResult? parse = null;
try
{
    parse = root.Parse(args);
    // Bad arguments get one line each, like every other error; bare 'loom' still shows the help.
    if (parse.Errors.Count > 0 && args.Length > 0)
    {
        foreach (var error in parse.Errors) Console.Error.WriteLine($"loom: {CliErrors.OneLine(error.Message)}");
        return 1;
    }
    return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (OperationCanceledException)
{
    // Ctrl+C: the command stopped as asked; the shell's convention for SIGINT, and no stack trace.
    Console.Error.WriteLine("loom: interrupted");
    return 130;
}
catch (Exception e)
{
    Console.Error.WriteLine($"loom: {CliErrors.Describe(e)}");
    if (Verbose()) Console.Error.WriteLine(e);
    return 1;
}

// The parse itself may be what failed, so the raw arguments are the fallback.
bool Verbose()
{
    try { return parse?.GetValue(verbose) ?? args.Contains("--verbose"); }
    catch (InvalidOperationException) { return args.Contains("--verbose"); }
}
