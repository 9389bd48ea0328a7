using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Loom.Models;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Loom.Cli;

/// <summary>
/// Shows how far a long operation has come, always on stderr so stdout stays clean for piping: a live Spectre.Console
/// bar with rate and time left on a terminal; plain lines, one per tenth, when stderr is a pipe or file (after the
/// first seconds, so quick commands leave nothing in logs); nothing under <c>--output json</c>. The library layers
/// report through the <see cref="IProgress{WorkProgress}"/> this is.
/// </summary>
internal sealed class CliProgress : IProgress<WorkProgress>
{
    /// <summary>The global <c>--progress</c> option.</summary>
    public static readonly Option<string> Option = CreateOption();

    /// <summary>How long an operation runs before automatic plain lines start.</summary>
    private static readonly TimeSpan PlainDelay = TimeSpan.FromSeconds(2);

    private enum Mode { None, Plain, Bar }

    private readonly string _title;
    private readonly Mode _mode;
    private readonly TimeSpan _plainDelay;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly object _gate = new();
    private int _tenthsShown;
    private IAnsiConsole? _console;
    private ProgressTask? _task;

    private CliProgress(string title, Mode mode, TimeSpan plainDelay) => (_title, _mode, _plainDelay) = (title, mode, plainDelay);

    private static Option<string> CreateOption()
    {
        var o = new Option<string>("--progress")
        {
            Description = "Progress of long work on stderr: auto (a bar on a terminal, plain lines after a few seconds otherwise), plain, none. Never with --output json",
            DefaultValueFactory = _ => "auto",
            Recursive = true,
        };
        o.AcceptOnlyFromAmong("auto", "plain", "none");
        return o;
    }

    /// <summary>Runs <paramref name="work"/>, showing its progress as <paramref name="parse"/>'s <c>--progress</c> asks; <paramref name="quiet"/> (JSON output) shows none.</summary>
    public static T Run<T>(ParseResult parse, string title, bool quiet, Func<CliProgress, T> work) =>
        RunAsync(parse, title, quiet, p => Task.FromResult(work(p))).GetAwaiter().GetResult();

    /// <inheritdoc cref="Run"/>
    public static async Task<T> RunAsync<T>(ParseResult parse, string title, bool quiet, Func<CliProgress, Task<T>> work)
    {
        var p = Create(parse, title, quiet);
        if (p._mode != Mode.Bar) return await work(p);
        T result = default!;
        await p.Bar().StartAsync(async ctx =>
        {
            p.Attach(ctx);
            result = await work(p);
            p.Finish();
        });
        return result;
    }

    private static CliProgress Create(ParseResult parse, string title, bool quiet) => (quiet ? "none" : parse.GetValue(Option)) switch
    {
        "none" => new CliProgress(title, Mode.None, TimeSpan.Zero),
        "plain" => new CliProgress(title, Mode.Plain, TimeSpan.Zero),
        _ when Console.IsErrorRedirected => new CliProgress(title, Mode.Plain, PlainDelay),
        _ => new CliProgress(title, Mode.Bar, TimeSpan.Zero),
    };

    private Progress Bar()
    {
        _console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return _console.Progress().AutoClear(true).Columns(
            new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RateColumn(),
            new ElapsedTimeColumn(), new RemainingTimeColumn());
    }

    private void Attach(ProgressContext ctx)
    {
        var task = ctx.AddTask(Markup.Escape(_title), maxValue: 1);
        // Until the first report says how much there is to do.
        task.IsIndeterminate = true;
        task.Tag = this;
        lock (_gate) _task = task;
    }

    private void Finish()
    {
        lock (_gate)
            if (_task is { } t) t.Value = t.MaxValue;
    }

    /// <summary>The unit of the reports, for the rate column.</summary>
    private string Unit { get; set; } = "";

    public void Report(WorkProgress p)
    {
        lock (_gate)
        {
            Unit = p.Unit;
            if (_task is { } task)
            {
                if (task.IsIndeterminate || task.MaxValue != Math.Max(1, p.Total))
                {
                    task.IsIndeterminate = false;
                    task.MaxValue = Math.Max(1, p.Total);
                }
                task.Value = p.Done;
                task.Description = Markup.Escape(p.Item is null ? _title : $"{_title}: {p.Item}");
            }
            else if (_mode == Mode.Plain) Plain(p);
        }
    }

    /// <summary>
    /// A line of the command's own output, for stdout. While a bar is live on a terminal that is stdout as well, the
    /// line goes through the bar's console, which draws it above the bar instead of tearing it.
    /// </summary>
    public void WriteLine(string line)
    {
        lock (_gate)
        {
            if (_console is not null && _task is not null && !Console.IsOutputRedirected)
            {
                _console.Write(new Text(line + Environment.NewLine));
                return;
            }
        }
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }

    private void Plain(WorkProgress p)
    {
        var elapsed = _clock.Elapsed;
        int tenths = (int)(p.Fraction * 10);
        if (tenths <= _tenthsShown || elapsed < _plainDelay) return;
        _tenthsShown = tenths;
        double rate = p.Done / Math.Max(elapsed.TotalSeconds, 1e-9);
        string timing = p.Done >= p.Total
            ? string.Create(CultureInfo.InvariantCulture, $"in {elapsed.TotalSeconds:F1} s")
            : string.Create(CultureInfo.InvariantCulture, $"{Amount(rate, p.Unit, rate)}/s, {Seconds((p.Total - p.Done) / rate)} left");
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{_title}: {tenths * 10}% ({Amount(p.Done, p.Unit, p.Total, withUnit: false)}/{Amount(p.Total, p.Unit, p.Total)}, {timing})"));
    }

    private static string Seconds(double s) => s switch
    {
        < 100 => string.Create(CultureInfo.InvariantCulture, $"{s:F0} s"),
        < 6000 => string.Create(CultureInfo.InvariantCulture, $"{s / 60:F0} min"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{s / 3600:F1} h"),
    };

    /// <summary>Bytes in KiB, MiB or GiB as <paramref name="scale"/> calls for; other units as counts.</summary>
    private static string Amount(double n, string unit, double scale, bool withUnit = true)
    {
        if (unit != WorkProgress.Bytes) return string.Create(CultureInfo.InvariantCulture, $"{n:F0}{(withUnit ? " " + unit : "")}");
        var (div, name) = scale >= 1 << 30 ? (1 << 30, "GiB") : scale >= 1 << 20 ? (1 << 20, "MiB") : (1 << 10, "KiB");
        return string.Create(CultureInfo.InvariantCulture, $"{n / div:F1}{(withUnit ? " " + name : "")}");
    }

    /// <summary>The task's speed in its own unit (MiB/s for bytes, tokens/s, …).</summary>
    private sealed class RateColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            task.Speed is double speed && task.Tag is CliProgress p && p.Unit.Length > 0
                ? new Text(Amount(speed, p.Unit, speed) + "/s", new Style(Color.Grey))
                : new Text("");
    }
}
