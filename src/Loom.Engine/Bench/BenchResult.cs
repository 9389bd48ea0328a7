namespace Loom.Engine.Bench;

/// <summary>One test at one thread count: <c>pp512</c> (prompt processing) or <c>tg128</c> (text generation).</summary>
public sealed record BenchResult
{
    /// <summary>"pp" + prompt tokens or "tg" + generated tokens, as llama-bench names tests.</summary>
    public required string Test { get; init; }
    public required int Threads { get; init; }
    /// <summary>Tokens per repetition.</summary>
    public required int Tokens { get; init; }
    /// <summary>Tokens per second of each timed repetition.</summary>
    public required double[] Samples { get; init; }
    public double Mean => Samples.Average();
    /// <summary>Sample standard deviation (0 for a single repetition), as llama-bench reports it.</summary>
    public double StdDev
    {
        get
        {
            if (Samples.Length < 2) return 0;
            double m = Mean;
            return Math.Sqrt(Samples.Sum(s => (s - m) * (s - m)) / (Samples.Length - 1));
        }
    }

    /// <summary>Generation only: bytes read per token (every weight used, plus the KV cache at the average position).</summary>
    public double? BytesPerToken { get; init; }
    /// <summary>Generation only: <see cref="BytesPerToken"/> × mean tokens per second, in GB/s (1e9).</summary>
    public double? GBps => BytesPerToken * Mean / 1e9;
    /// <summary>Generation only: the bandwidth probe at the same thread count, GB/s; null when the probe was skipped.</summary>
    public double? ProbeGBps { get; init; }
    /// <summary>Generation only: <see cref="GBps"/> as a percentage of <see cref="ProbeGBps"/>.</summary>
    public double? PercentOfProbe => GBps / ProbeGBps * 100;
}
