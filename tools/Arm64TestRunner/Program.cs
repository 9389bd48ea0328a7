// Minimal in-process xunit v2 runner, built on xunit's own XunitTestFramework (no xunit.runner.utility).
//   Arm64TestRunner [--serial] [--trace] --assembly NAME [--filter TEXT]... [--assembly NAME [--filter TEXT]...]...
// NAME is a test assembly published beside the runner (e.g. Loom.Core.Tests). A --filter applies to the --assembly
// before it: a test case runs when its display name contains any of that assembly's filters (no filter: every test).
// An assembly whose filters select no test counts as a failure, so a renamed test cannot silently turn a check into
// a no-op. Prints "NAME: N passed, N failed, N skipped" per assembly and "total: N passed, N failed, N skipped";
// exits 1 on any failure, 2 on bad arguments. --serial turns off xunit's parallel test collections; --trace prints
// each test as it starts (to find the test that takes a crashing process down with it).
using System.Diagnostics;
using System.Reflection;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

bool serial = false, trace = false;
var plan = new List<(string Assembly, List<string> Filters)>();
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--assembly" when i + 1 < args.Length: plan.Add((args[++i], new List<string>())); break;
        case "--filter" when i + 1 < args.Length && plan.Count > 0: plan[^1].Filters.Add(args[++i]); break;
        case "--serial": serial = true; break;
        case "--trace": trace = true; break;
        default:
            Console.Error.WriteLine($"unexpected argument '{args[i]}'");
            Console.Error.WriteLine("usage: Arm64TestRunner [--serial] [--trace] --assembly NAME [--filter TEXT]... [--assembly NAME ...]");
            return 2;
    }
}
if (plan.Count == 0) { Console.Error.WriteLine("no --assembly given"); return 2; }

int totalPassed = 0, totalFailed = 0, totalSkipped = 0;
foreach (var (assemblyArg, filters) in plan)
{
    string name = assemblyArg.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? assemblyArg[..^4] : assemblyArg;
    var clock = Stopwatch.StartNew();
    var sink = new Sink(verbose: filters.Count > 0, trace);
    try
    {
        var assembly = Assembly.Load(new AssemblyName(name));
        var diagnostics = new NullSink();
        using var framework = new XunitTestFramework(diagnostics);

        var discoveryOptions = new Options();
        discoveryOptions.SetValue("xunit.discovery.PreEnumerateTheories", true);
        var discovered = new DiscoverySink();
        using (var discoverer = framework.GetDiscoverer(Reflector.Wrap(assembly)))
        {
            discoverer.Find(includeSourceInformation: false, discovered, discoveryOptions);
            discovered.Done.WaitOne();
        }
        var toRun = discovered.TestCases
            .Where(tc => filters.Count == 0 || filters.Any(f => tc.DisplayName.Contains(f, StringComparison.Ordinal)))
            .ToList();
        Console.WriteLine($"[{name}] discovered {discovered.TestCases.Count} test cases, running {toRun.Count}");

        if (toRun.Count > 0)
        {
            var executionOptions = new Options();
            executionOptions.SetValue("xunit.execution.DisableParallelization", serial);
            using var executor = framework.GetExecutor(assembly.GetName());
            executor.RunTests(toRun, sink, executionOptions);
            sink.Done.WaitOne();
        }
    }
    catch (Exception e)
    {
        sink.Failed++;
        Console.WriteLine($"  ERROR loading or running {name}: {e}");
    }
    if (sink.Passed + sink.Failed + sink.Skipped == 0)
    {
        sink.Failed++;
        Console.WriteLine($"  FAIL no test in {name} matched {(filters.Count > 0 ? string.Join(" | ", filters) : "(no filter)")}");
    }
    Console.WriteLine($"{name}: {sink.Passed} passed, {sink.Failed} failed, {sink.Skipped} skipped ({clock.Elapsed.TotalSeconds:0.0}s)");
    totalPassed += sink.Passed; totalFailed += sink.Failed; totalSkipped += sink.Skipped;
}
Console.WriteLine($"total: {totalPassed} passed, {totalFailed} failed, {totalSkipped} skipped");
return totalFailed == 0 ? 0 : 1;

/// <summary>Discovery and execution options: xunit reads them by name ("xunit.discovery.*", "xunit.execution.*").</summary>
sealed class Options : LongLivedMarshalByRefObject, ITestFrameworkDiscoveryOptions, ITestFrameworkExecutionOptions
{
    private readonly Dictionary<string, object?> _values = new();
    public TValue GetValue<TValue>(string name) => _values.TryGetValue(name, out var v) && v is TValue t ? t : default!;
    public void SetValue<TValue>(string name, TValue value) => _values[name] = value;
}

sealed class NullSink : LongLivedMarshalByRefObject, IMessageSink
{
    public bool OnMessage(IMessageSinkMessage message) => true;
}

sealed class DiscoverySink : LongLivedMarshalByRefObject, IMessageSink
{
    public readonly List<ITestCase> TestCases = new();
    public readonly ManualResetEvent Done = new(false);
    public bool OnMessage(IMessageSinkMessage message)
    {
        if (message is ITestCaseDiscoveryMessage d) lock (TestCases) TestCases.Add(d.TestCase);
        else if (message is IDiscoveryCompleteMessage) Done.Set();
        return true;
    }
}

sealed class Sink(bool verbose, bool trace) : LongLivedMarshalByRefObject, IMessageSink
{
    public int Passed, Failed, Skipped;
    public readonly ManualResetEvent Done = new(false);
    private readonly object _gate = new();

    public bool OnMessage(IMessageSinkMessage message)
    {
        lock (_gate)
        {
            switch (message)
            {
                case ITestStarting start when trace:
                    Console.WriteLine($"  RUN  {start.Test.DisplayName}");
                    break;
                case ITestPassed p:
                    Passed++;
                    if (verbose)
                    {
                        Console.WriteLine($"  PASS {p.Test.DisplayName} ({p.ExecutionTime:0.00}s)");
                        if (!string.IsNullOrWhiteSpace(p.Output)) Console.WriteLine(Indent(p.Output.TrimEnd()));
                    }
                    break;
                case ITestFailed f:
                    Failed++;
                    Console.WriteLine($"  FAIL {f.Test.DisplayName} ({f.ExecutionTime:0.00}s)");
                    Report(f);
                    if (!string.IsNullOrWhiteSpace(f.Output)) Console.WriteLine(Indent("output: " + f.Output.TrimEnd()));
                    break;
                case ITestSkipped s:
                    Skipped++;
                    Console.WriteLine($"  SKIP {s.Test.DisplayName}: {s.Reason}");
                    break;
                case IFailureInformation failure: // IErrorMessage and the fixture/cleanup failures
                    Failed++;
                    Console.WriteLine($"  ERROR {message.GetType().Name}");
                    Report(failure);
                    break;
                case ITestAssemblyFinished:
                    Done.Set();
                    break;
            }
        }
        return true;
    }

    private static void Report(IFailureInformation f)
    {
        for (int i = 0; i < f.ExceptionTypes.Length; i++)
        {
            Console.WriteLine(Indent($"{(i > 0 ? "inner " : "")}{f.ExceptionTypes[i]}: {f.Messages[i]}"));
            var trace = i < f.StackTraces.Length ? f.StackTraces[i] : null;
            if (!string.IsNullOrWhiteSpace(trace)) Console.WriteLine(Indent(trace.TrimEnd()));
        }
    }

    private static string Indent(string text) => "      " + text.Replace("\n", "\n      ");
}
