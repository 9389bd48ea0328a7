using System.CommandLine;
using Loom.Cli.BenchServe;

namespace Loom.Cli.Commands;

/// <summary><c>loom bench compare</c>: <c>bench serve</c> results side by side, as a table and optionally charts.</summary>
internal static class BenchCompareCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("files") { Description = "JSON files written by loom bench serve --output-json", Arity = ArgumentArity.OneOrMore };
        var report = new Option<string?>("--report") { Description = "Also write a self-contained HTML report with charts" };
        var cmd = new Command("compare", "Put loom bench serve results (--output-json files, sweeps included) side by side") { files, report };
        cmd.SetAction(async (parse, ct) =>
        {
            var runs = parse.GetValue(files)!.Select(BenchReport.Read).ToArray();
            Console.Out.Write(BenchReport.MarkdownTable(runs));
            if (parse.GetValue(report) is { } html)
                await File.WriteAllTextAsync(html, BenchReport.Html(runs, "loom bench compare: " + string.Join(" vs ", runs.Select(r => r.Label))), ct);
            return 0;
        });
        return cmd;
    }
}
