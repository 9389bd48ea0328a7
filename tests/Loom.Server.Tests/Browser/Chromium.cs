namespace Loom.Server.Tests.Browser;

/// <summary>
/// Finds a Chromium for Playwright to drive: <c>LOOM_CHROMIUM</c> when set, else the usual names on PATH, else the
/// usual install locations. Playwright's own browser download is never used (it needs the internet); its driver
/// (node and the JS package) ships in the NuGet package and is copied beside the tests.
/// </summary>
internal static class Chromium
{
    public const string EnvVar = "LOOM_CHROMIUM";

    public static readonly string? Executable = Find();

    /// <summary>Why browser tests skip, or null when they can run.</summary>
    public static readonly string? SkipReason =
        Executable is null ? $"needs Chromium (apt-get install chromium, or set {EnvVar} to its executable); none found, so skipped"
        : !Directory.Exists(Path.Combine(AppContext.BaseDirectory, ".playwright", "node")) ? "needs the Playwright driver beside the tests (.playwright/node from the Microsoft.Playwright package) for this platform; not there, so skipped"
        : null;

    private static string? Find()
    {
        if (Environment.GetEnvironmentVariable(EnvVar) is { Length: > 0 } env) return File.Exists(env) ? Path.GetFullPath(env) : null;
        string[] names = OperatingSystem.IsWindows() ? ["chrome.exe", "msedge.exe"] : ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .SelectMany(dir => names.Select(name => Path.Combine(dir, name)));
        string[] known =
        [
            "/usr/bin/chromium", "/usr/lib/chromium/chromium", "/snap/bin/chromium", "/usr/bin/google-chrome",
            "/Applications/Chromium.app/Contents/MacOS/Chromium", "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
            @"C:\Program Files\Google\Chrome\Application\chrome.exe",
        ];
        return onPath.Concat(known).FirstOrDefault(File.Exists);
    }
}

/// <summary>A fact that skips, saying why, where no Chromium (or no Playwright driver) is found.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute() { if (Chromium.SkipReason is { } reason) Skip = reason; }
}
