namespace Loom.Core.Threading;

/// <summary>Splits a range of independent rows over the shared <see cref="ComputePool"/>.</summary>
public static class RowParallel
{
    /// <summary>Threads kernels use, the caller included; set by the host from <c>--threads</c>.</summary>
    public static int Threads
    {
        get => ComputePool.Shared.Threads;
        set => ComputePool.Shared.Threads = value;
    }

    /// <summary>
    /// Calls <paramref name="body"/>(state, start, end) over chunks of [0, count), in parallel when worthwhile
    /// (see <see cref="ComputePool.For"/> for <paramref name="chunksPerThread"/>).
    /// </summary>
    public static void For<TState>(int count, long workPerRow, TState state, Action<TState, int, int> body, int chunksPerThread = 16) =>
        ComputePool.Shared.For(count, workPerRow, state, body, chunksPerThread);
}
