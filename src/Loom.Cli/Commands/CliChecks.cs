using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Loom.Cli.Commands;

/// <summary>
/// Range checks for numeric options, attached as parse validators so that every command refuses a bad value the
/// same way (one line naming the option, exit code 1) before any model is loaded.
/// </summary>
internal static class CliChecks
{
    /// <summary>
    /// More compute threads than four per logical core (at least 8, at most 1024) is a typo, not a setting: each
    /// thread beyond the cores only adds waiting to every step.
    /// </summary>
    public static readonly int MaxThreads = Math.Clamp(4 * Environment.ProcessorCount, 8, 1024);

    /// <summary>Refuses values outside [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Option<int> InRange(this Option<int> option, int min, int max = int.MaxValue)
    {
        option.Validators.Add(r => { if (Value<int>(r) is int v) Check(r, option.Name, v, min, max); });
        return option;
    }

    /// <summary>Refuses a given value outside [<paramref name="min"/>, <paramref name="max"/>]; leaving it out is fine.</summary>
    public static Option<int?> InRange(this Option<int?> option, int min, int max = int.MaxValue)
    {
        option.Validators.Add(r => { if (Value<int?>(r) is int v) Check(r, option.Name, v, min, max); });
        return option;
    }

    /// <summary>Refuses a comma-separated list (e.g. <c>1,2,4</c>) with any entry that is not an integer in range.</summary>
    public static Option<string> ListInRange(this Option<string> option, int min, int max)
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is not { } text) return;
            foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(part, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v)) { r.AddError($"{option.Name}: '{part}' is not an integer"); return; }
                if (!Check(r, option.Name, v, min, max)) return;
            }
        });
        return option;
    }

    /// <summary>Parses a list that <see cref="ListInRange"/> has already checked.</summary>
    public static int[] ParseList(string text) =>
        text.Split(',', StringSplitOptions.TrimEntries).Select(x => int.Parse(x, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)).ToArray();

    // A value that does not even convert already carries the parser's own error; there is nothing to range-check.
    private static T? Value<T>(OptionResult r)
    {
        try { return r.GetValueOrDefault<T>(); }
        catch (InvalidOperationException) { return default; }
    }

    private static bool Check(OptionResult r, string name, long value, int min, int max)
    {
        if (value >= min && value <= max) return true;
        r.AddError(max == int.MaxValue ? $"{name} must be at least {min}, not {value}" : $"{name} must be between {min} and {max}, not {value}");
        return false;
    }
}
