using System.Diagnostics.Metrics;

namespace Loom.Engine;

/// <summary>
/// Counters the engine keeps as it runs; read by the CLI, benchmarks and the server's /metrics. Every counter is
/// also a <see cref="System.Diagnostics.Metrics"/> instrument on <see cref="Meter"/> (named <see cref="MeterName"/>),
/// so any <see cref="MeterListener"/> sees the same numbers the properties hold.
/// </summary>
/// <remarks>
/// Each engine has its own <see cref="Meter"/> instance, so a listener can follow one engine (compare
/// <c>instrument.Meter</c> with <see cref="Meter"/>) even when several run in one process, as in tests.
/// The properties are written only by the engine thread; the instruments are thread-safe.
/// </remarks>
public sealed class EngineMetrics : IDisposable
{
    /// <summary>Name of every engine's <see cref="Meter"/>.</summary>
    public const string MeterName = "Loom.Engine";

    private readonly Counter<long> _promptTokens, _generationTokens, _preemptions, _aborted, _failed, _finished, _proposed, _accepted, _verifications;
    private readonly Histogram<double> _ttft, _tpot, _e2e;
    // First-token times by request, so a finished request's time per output token excludes its prefill.
    private readonly Dictionary<Request, DateTime> _firstTokenAt = new(ReferenceEqualityComparer.Instance);
    private long _prompt, _generation, _preempted, _abortedCount, _failedCount, _finishedCount, _proposedCount, _acceptedCount, _verificationCount;
    private LlmEngine? _observed;

    public EngineMetrics()
    {
        Meter = new Meter(MeterName);
        _promptTokens = Meter.CreateCounter<long>("loom.prompt_tokens", "{token}", "Prompt tokens run through the model (cached prefix tokens excluded)");
        _generationTokens = Meter.CreateCounter<long>("loom.generation_tokens", "{token}", "Tokens generated");
        _preemptions = Meter.CreateCounter<long>("loom.preemptions", "{preemption}", "Sequences preempted for lack of KV blocks");
        _aborted = Meter.CreateCounter<long>("loom.requests.aborted", "{request}", "Requests aborted before they finished");
        _failed = Meter.CreateCounter<long>("loom.requests.failed", "{request}", "Requests ended by an error inside the engine");
        _finished = Meter.CreateCounter<long>("loom.requests.finished", "{request}", "Requests finished (aborted ones included)");
        _proposed = Meter.CreateCounter<long>("loom.spec_decode.draft_tokens", "{token}", "Speculative draft tokens verified by the target");
        _accepted = Meter.CreateCounter<long>("loom.spec_decode.accepted_tokens", "{token}", "Speculative draft tokens the target accepted");
        _verifications = Meter.CreateCounter<long>("loom.spec_decode.drafts", "{draft}", "Speculative drafts verified (one per sequence and step that speculated)");
        // Read from the listener's thread: two counters one step apart at worst, which a gauge tolerates.
        Meter.CreateObservableGauge("loom.spec_decode.mean_accepted_length", () => SpeculativeMeanAcceptedLength, "{token}", "Mean tokens a speculating sequence emits per step (accepted draft tokens plus one)");
        _ttft = Meter.CreateHistogram<double>("loom.time_to_first_token", "s", "Time from arrival to the first generated token");
        _tpot = Meter.CreateHistogram<double>("loom.time_per_output_token", "s", "Mean time between a request's generated tokens after the first");
        _e2e = Meter.CreateHistogram<double>("loom.e2e_request_latency", "s", "Time from arrival to the request's end");
    }

    /// <summary>The instruments' meter (one per engine).</summary>
    public Meter Meter { get; }

    public long Steps { get; internal set; }
    public double StepSeconds { get; internal set; }

    /// <summary>Prompt tokens run through the model (cached prefix tokens excluded).</summary>
    public long PromptTokens { get => _prompt; internal set => Count(_promptTokens, ref _prompt, value); }
    public long GenerationTokens { get => _generation; internal set => Count(_generationTokens, ref _generation, value); }
    public long Preemptions { get => _preempted; internal set => Count(_preemptions, ref _preempted, value); }
    public long Aborted { get => _abortedCount; internal set => Count(_aborted, ref _abortedCount, value); }
    /// <summary>Requests ended by an error inside the engine (see <see cref="LlmEngine.RequestFailed"/>).</summary>
    public long Failed { get => _failedCount; internal set => Count(_failed, ref _failedCount, value); }
    public long FinishedRequests { get => _finishedCount; internal set => Count(_finished, ref _finishedCount, value); }

    /// <summary>Speculative draft tokens verified by the target.</summary>
    public long SpeculativeDraftTokens { get => _proposedCount; private set => Count(_proposed, ref _proposedCount, value); }
    /// <summary>Speculative draft tokens accepted.</summary>
    public long SpeculativeAcceptedTokens { get => _acceptedCount; private set => Count(_accepted, ref _acceptedCount, value); }
    /// <summary>Drafts verified: sequence-steps that speculated.</summary>
    public long SpeculativeDrafts { get => _verificationCount; private set => Count(_verifications, ref _verificationCount, value); }
    /// <summary>Share of draft tokens accepted (0 before any).</summary>
    public double SpeculativeAcceptanceRate => _proposedCount == 0 ? 0 : (double)_acceptedCount / _proposedCount;
    /// <summary>Mean tokens a speculating sequence emits per step: the accepted draft tokens plus the one the target samples (vLLM's mean acceptance length).</summary>
    public double SpeculativeMeanAcceptedLength => _verificationCount == 0 ? 0 : 1 + (double)_acceptedCount / _verificationCount;

    internal void RecordSpeculation(int draftTokens, int accepted)
    {
        SpeculativeDraftTokens += draftTokens;
        SpeculativeAcceptedTokens += accepted;
        SpeculativeDrafts++;
    }

    /// <summary>Raised on the engine thread when a request's first token is sampled (time to first token).</summary>
    public event Action<TimeSpan>? FirstToken;
    /// <summary>Raised on the engine thread when a request finishes (end-to-end latency, completion tokens).</summary>
    public event Action<Request, TimeSpan>? Finished;

    /// <summary>
    /// Adds observable gauges over <paramref name="engine"/>'s state: requests running and waiting, KV blocks
    /// used, cached and free, and the prefix-cache hit rate. Read when a listener collects; call once per engine.
    /// </summary>
    public void Observe(LlmEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        if (Interlocked.CompareExchange(ref _observed, engine, null) is not null) return;
        // These read the scheduler's and block manager's counters from another thread: each read is one int, and
        // a gauge that is one step stale is still right.
        Meter.CreateObservableGauge("loom.requests.running", () => engine.Scheduler.RunningCount, "{sequence}", "Sequences in the running batch");
        Meter.CreateObservableGauge("loom.requests.waiting", () => engine.Scheduler.WaitingCount, "{sequence}", "Sequences waiting to be scheduled");
        Meter.CreateObservableGauge("loom.kv_blocks.used", () => engine.Blocks.UsedBlocks, "{block}", "KV blocks referenced by a sequence");
        Meter.CreateObservableGauge("loom.kv_blocks.cached", () => engine.Blocks.CachedBlocks, "{block}", "Unreferenced KV blocks holding a reusable prefix");
        Meter.CreateObservableGauge("loom.kv_blocks.free", () => engine.Blocks.FreeBlocks, "{block}", "KV blocks holding nothing");
        Meter.CreateObservableGauge("loom.prefix_cache.hit_rate", () => engine.Blocks.PrefixHitRate, "1", "Share of full prompt blocks found in the prefix cache");
    }

    internal void RecordFirstToken(Request r)
    {
        var now = DateTime.UtcNow;
        var arrival = r.ArrivalTime;
        // With n > 1 every choice reports its first token; the request's is the earliest.
        if (_firstTokenAt.TryAdd(r, now)) _ttft.Record((now - arrival).TotalSeconds);
        FirstToken?.Invoke(now - arrival);
    }

    internal void RecordFinished(Request r)
    {
        FinishedRequests++;
        var now = DateTime.UtcNow;
        var e2e = now - r.ArrivalTime;
        _e2e.Record(e2e.TotalSeconds);
        if (_firstTokenAt.Remove(r, out var first))
        {
            int tokens = r.Sequences.Sum(s => s.OutputLength) / Math.Max(1, r.Sequences.Count);
            if (tokens > 1) _tpot.Record((now - first).TotalSeconds / (tokens - 1));
        }
        Finished?.Invoke(r, e2e);
    }

    private static void Count(Counter<long> counter, ref long field, long value)
    {
        if (value > field) counter.Add(value - field);
        field = value;
    }

    public void Dispose() => Meter.Dispose();
}
