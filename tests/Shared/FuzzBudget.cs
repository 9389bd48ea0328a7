namespace Loom.Tests;

/// <summary>
/// How long the fuzz campaigns run. In the suite each is time-boxed to a few seconds; setting LOOM_FUZZ_SECONDS
/// gives every campaign that many seconds instead (and lifts its iteration cap), for a long run:
/// <c>LOOM_FUZZ_SECONDS=600 dotnet test Loom.slnx -c Release --filter "FullyQualifiedName~Fuzz"</c>.
/// The seed varies with LOOM_FUZZ_SEED (default fixed), so repeated long runs explore different mutants.
/// </summary>
public static class FuzzBudget
{
    public static TimeSpan Box(double defaultSeconds) =>
        TimeSpan.FromSeconds(double.TryParse(Environment.GetEnvironmentVariable("LOOM_FUZZ_SECONDS"), System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0 ? s : defaultSeconds);

    public static int Cap(int defaultCap) => Environment.GetEnvironmentVariable("LOOM_FUZZ_SECONDS") is { Length: > 0 } ? int.MaxValue : defaultCap;

    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("LOOM_FUZZ_SEED"), out var s) ? s : 20261207;
}
