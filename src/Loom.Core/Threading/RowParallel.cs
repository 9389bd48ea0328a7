namespace Loom.Core.Threading;

/// <summary>Splits a range of independent rows over threads.</summary>
public static class RowParallel
{
    /// <summary>Worker threads used by kernels; set by the host from <c>--threads</c>.</summary>
    public static int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>Calls <paramref name="body"/>(state, start, end) over chunks of [0, count), in parallel when worthwhile.</summary>
    public static void For<TState>(int count, long workPerRow, TState state, Action<TState, int, int> body)
    {
        int threads = Math.Min(Threads, count);
        // Small jobs cost more to hand out than to run.
        if (threads <= 1 || count * workPerRow < 32_768)
        {
            body(state, 0, count);
            return;
        }
        int chunks = threads;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
        {
            int start = (int)((long)count * c / chunks), end = (int)((long)count * (c + 1) / chunks);
            if (end > start) body(state, start, end);
        });
    }
}
