using System.Globalization;

namespace Loom.Engine;

/// <summary>
/// How much memory the KV cache may take: a byte count (<c>2GiB</c>, <c>512MiB</c>, <c>1.5GB</c>, <c>1000000</c>) or a
/// fraction of the memory available now (<c>0.3</c>). Parsed from <c>--kv-cache-memory</c>.
/// </summary>
public readonly record struct KvCacheBudget(long? Bytes, double? Fraction)
{
    private static readonly (string Suffix, long Scale)[] Units =
    [
        ("kib", 1L << 10), ("mib", 1L << 20), ("gib", 1L << 30), ("tib", 1L << 40),
        ("kb", 1000L), ("mb", 1000_000L), ("gb", 1000_000_000L), ("tb", 1000_000_000_000L),
        ("k", 1L << 10), ("m", 1L << 20), ("g", 1L << 30), ("t", 1L << 40), ("b", 1L),
    ];

    /// <summary>
    /// Parses a budget. A plain number in (0, 1] is a fraction of available memory; a larger plain number is bytes;
    /// a number with a unit (KiB/MiB/GiB/TiB binary, KB/MB/GB/TB decimal, K/M/G/T binary, B) is bytes.
    /// Throws <see cref="ArgumentException"/> naming the text otherwise.
    /// </summary>
    public static KvCacheBudget Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim().ToLowerInvariant();
        long scale = 0;
        foreach (var (suffix, s) in Units)
        {
            if (t.EndsWith(suffix, StringComparison.Ordinal)) { scale = s; t = t[..^suffix.Length].TrimEnd(); break; }
        }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v) || v <= 0)
            throw new ArgumentException($"KV cache memory '{text}' is not a positive size (like 2GiB or 512MiB) or a fraction (like 0.3)");
        if (scale == 0 && v <= 1) return new KvCacheBudget(null, v);
        double bytes = v * (scale == 0 ? 1 : scale);
        if (bytes < 1 || bytes > long.MaxValue) throw new ArgumentException($"KV cache memory '{text}' is out of range");
        return new KvCacheBudget((long)bytes, null);
    }

    /// <summary>Copies this budget into engine options (a fraction replaces a byte count and the other way round).</summary>
    public EngineOptions ApplyTo(EngineOptions options) => Bytes is long b
        ? options with { KvCacheBytes = b }
        : options with { KvCacheBytes = null, KvCacheFraction = Fraction ?? options.KvCacheFraction };

    /// <summary>Bytes budgeted when memory available now is <paramref name="available"/>.</summary>
    public long Resolve(long available) => Bytes ?? (long)((Fraction ?? 0) * available);

    /// <summary>
    /// Memory that can be taken now without swapping: MemAvailable on Linux; elsewhere what the runtime reports
    /// as available to the process.
    /// </summary>
    public static long AvailableMemoryBytes()
    {
        try
        {
            if (File.Exists("/proc/meminfo"))
                foreach (var line in File.ReadLines("/proc/meminfo"))
                {
                    if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal)) continue;
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (parts.Length >= 2 && long.TryParse(parts[1], out long kb)) return kb * 1024;
                }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    public override string ToString() => Bytes is long b ? $"{b} bytes" : $"{Fraction:0.###} of available memory";
}
