namespace Loom.Engine;

/// <summary>Counters the engine keeps as it runs; read by the CLI, benchmarks and the server's /metrics.</summary>
public sealed class EngineMetrics
{
    public long Steps { get; internal set; }
    public double StepSeconds { get; internal set; }
    /// <summary>Prompt tokens run through the model (cached prefix tokens excluded).</summary>
    public long PromptTokens { get; internal set; }
    public long GenerationTokens { get; internal set; }
    public long Preemptions { get; internal set; }
    public long Aborted { get; internal set; }
    public long FinishedRequests { get; internal set; }

    /// <summary>Raised on the engine thread when a request's first token is sampled (time to first token).</summary>
    public event Action<TimeSpan>? FirstToken;
    /// <summary>Raised on the engine thread when a request finishes (end-to-end latency, completion tokens).</summary>
    public event Action<Request, TimeSpan>? Finished;

    internal void RecordFirstToken(DateTime arrival) => FirstToken?.Invoke(DateTime.UtcNow - arrival);

    internal void RecordFinished(Request r)
    {
        FinishedRequests++;
        Finished?.Invoke(r, DateTime.UtcNow - r.ArrivalTime);
    }
}
