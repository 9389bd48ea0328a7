namespace Loom.Engine;

/// <summary>Where in a step a request's work can fail; see <see cref="EngineOptions.Faults"/>.</summary>
public enum EngineStage
{
    /// <summary>Turning a submitted request into sequences (tokenizer decoder, stop matcher, sampler).</summary>
    Admit,
    /// <summary>Bookkeeping for a request's chunk after the scheduler picked it for the step (blocks allocated).</summary>
    Schedule,
    /// <summary>The forward pass of a whole step: every sequence in the batch fails with it.</summary>
    Run,
    /// <summary>Sampling one sequence's next token.</summary>
    Sample,
    /// <summary>Detokenizing, stop checks and emitting after a token was sampled.</summary>
    Emit,
}

/// <summary>
/// Called by the engine at each <see cref="EngineStage"/> for the request whose work is about to run (for
/// <see cref="EngineStage.Run"/>, once per request in the batch). Throwing makes that stage fail as a real fault
/// would, which is how tests prove that no fault loses a request or leaks its blocks. Production engines have none.
/// </summary>
public interface IEngineFaults
{
    void At(EngineStage stage, Request request);
}

/// <summary>How the engine consults <see cref="IEngineFaults"/> for a step's chunks: once per request they concern.</summary>
internal static class EngineFaultsExtensions
{
    public static void AtEach(this IEngineFaults faults, EngineStage stage, IReadOnlyList<ScheduledChunk> chunks)
    {
        foreach (var r in RequestsOf(chunks)) faults.At(stage, r);
    }

    /// <summary>Schedule-stage faults: a failure for one request's chunk fails that request and drops it from the step; the rest run.</summary>
    public static IReadOnlyList<ScheduledChunk> DropFailing(this IEngineFaults faults, IReadOnlyList<ScheduledChunk> chunks, Action<Request, Exception> fail)
    {
        foreach (var r in RequestsOf(chunks))
        {
            try { faults.At(EngineStage.Schedule, r); }
            catch (Exception e) { fail(r, e); }
        }
        return chunks.Where(c => c.Seq.Status != SequenceStatus.Finished).ToArray();
    }

    private static IEnumerable<Request> RequestsOf(IReadOnlyList<ScheduledChunk> chunks) => chunks.Select(c => c.Seq.Request).Distinct();
}
