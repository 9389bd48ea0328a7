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

    /// <summary>Tests after a given prompt (<see cref="SpeculativeBench"/>): its tokens, the depth the test runs at.</summary>
    public int? PromptTokens { get; init; }
    /// <summary>The speculating engine's method (<see cref="SpeculativeBench.Label"/>); null for plain decoding.</summary>
    public string? Speculative { get; init; }
    /// <summary>Speculative only: draft tokens verified, accepted, and drafts (sequence-steps that speculated), over the timed repetitions.</summary>
    public long? DraftTokens { get; init; }
    public long? AcceptedTokens { get; init; }
    public long? Drafts { get; init; }
    /// <summary>Speculative only: accepted / drafted.</summary>
    public double? AcceptanceRate => DraftTokens is > 0 ? (double)AcceptedTokens!.Value / DraftTokens.Value : DraftTokens is null ? null : 0;
    /// <summary>Speculative only: tokens a speculating step emits on average (accepted draft tokens plus the target's own).</summary>
    public double? MeanAcceptedLength => Drafts is > 0 ? 1 + (double)AcceptedTokens!.Value / Drafts.Value : Drafts is null ? null : 0;
    /// <summary>Speculative only: whether every repetition generated exactly the plain engine's tokens (greedy speculation must).</summary>
    public bool? SameOutput { get; init; }
    /// <summary>A pass-cost row: one forward pass over <see cref="Tokens"/> tokens, each returning logits.</summary>
    public bool IsPass { get; init; }
    /// <summary>Pass-cost rows: milliseconds per pass at the mean rate.</summary>
    public double? PassMs => IsPass ? Tokens / Mean * 1000 : null;
}
