using System.Reflection;

namespace Loom.Cli.Tests;

/// <summary>
/// Runs the <c>loom</c> entry point in-process with stdout and stderr captured. Console redirection is global, so
/// this assembly runs its tests one at a time (see AssemblyInfo).
/// </summary>
internal static class CliRunner
{
    private static readonly MethodInfo Entry = Assembly.Load(new AssemblyName("loom")).EntryPoint
        ?? throw new InvalidOperationException("loom has no entry point");

    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            object? result = Entry.Invoke(null, [args]);
            int code = result switch
            {
                Task<int> t => t.GetAwaiter().GetResult(),
                int i => i,
                _ => 0,
            };
            return (code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }
}

/// <summary>A temporary directory removed with its contents on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("loom-cli-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}
