namespace Loom.Core.Threading;

/// <summary>
/// A fixed set of worker threads that run one data-parallel operation at a time, with the calling thread
/// taking part. Workers spin briefly between operations (a forward pass issues hundreds back to back) and
/// then sleep; handing out an operation allocates nothing. Work is claimed in chunks from a shared counter,
/// so a slow or descheduled thread does not hold the others up.
/// </summary>
/// <remarks>
/// One operation runs at a time: a call made while the pool is busy (from another thread, or nested inside a
/// body) runs inline on its caller instead, which keeps results identical and never deadlocks.
/// </remarks>
public sealed class ComputePool : IDisposable
{
    private const int SpinIterations = 5_000;

    private readonly object _lock = new();
    private readonly List<Thread> _workers = [];
    // One reusable holder per state type and pool, so that publishing an operation allocates nothing and two
    // pools running at once never share one. Touched only by the caller that holds _busy.
    private readonly Dictionary<Type, WorkItem> _items = [];
    private WorkItem? _work;
    // High 32 bits: the operation's number; low 32 bits: the next chunk to claim. A worker that wakes late for an
    // operation that has already moved on fails its claim instead of running a chunk of the next one.
    private long _ticket;
    private int _generation;
    private int _chunks;
    private int _done;
    private int _participants;
    private int _busy;
    private int _sleepers;
    private bool _disposed;

    /// <summary>Creates a pool that runs operations on <paramref name="threads"/> threads, the caller included.</summary>
    public ComputePool(int threads) => Threads = threads;

    /// <summary>
    /// A pool of one thread per core for callers that name none (model loading, tests, benchmarks). Nothing resizes
    /// it: an engine that wants another thread count owns its own pool.
    /// </summary>
    public static ComputePool Shared { get; } = new(Environment.ProcessorCount);

    /// <summary>Threads an operation runs on, the calling thread included (at least 1).</summary>
    public int Threads
    {
        get => Volatile.Read(ref _participants) + 1;
        set
        {
            // The shared pool is process-wide: resizing it would change every other user's thread count.
            if (ReferenceEquals(this, Shared)) throw new InvalidOperationException("the shared compute pool is never resized; create a pool of your own");
            int workers = Math.Max(1, value) - 1;
            lock (_lock)
            {
                while (_workers.Count < workers)
                {
                    var t = new Thread(WorkerLoop) { IsBackground = true, Name = $"loom-compute-{_workers.Count + 1}" };
                    _workers.Add(t);
                    t.Start(_workers.Count - 1);
                }
                Volatile.Write(ref _participants, workers);
            }
        }
    }

    /// <summary>
    /// Calls <paramref name="body"/>(state, start, end) over disjoint chunks covering [0, <paramref name="count"/>),
    /// spread over the pool's threads when the work (<paramref name="count"/> × <paramref name="workPerItem"/>) is
    /// large enough to be worth it. Exceptions from any chunk are rethrown on the caller.
    /// </summary>
    /// <param name="chunksPerThread">
    /// How finely to cut the range: many chunks balance uneven threads (the last one claimed is what the caller
    /// waits for); few keep each thread's rows contiguous, which memory-bound streaming prefers.
    /// </param>
    public void For<TState>(int count, long workPerItem, TState state, Action<TState, int, int> body, int chunksPerThread = 16)
    {
        if (count <= 0) return;
        int participants = Volatile.Read(ref _participants);
        if (participants == 0 || count == 1 || count * workPerItem < 16_384 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            body(state, 0, count);
            return;
        }
        try
        {
            if (!_items.TryGetValue(typeof(TState), out var held)) _items[typeof(TState)] = held = new WorkItem<TState>();
            var item = (WorkItem<TState>)held;
            int chunks = Math.Min(count, (participants + 1) * Math.Max(1, chunksPerThread));
            item.Set(state, body, count);
            _work = item;
            _chunks = chunks;
            _done = 0;
            int op = _generation + 1;
            Interlocked.Exchange(ref _ticket, (long)op << 32);
            Volatile.Write(ref _generation, op);
            if (Volatile.Read(ref _sleepers) > 0)
                lock (_lock) Monitor.PulseAll(_lock);
            RunChunks(op);
            // Only chunks a worker claimed and is still running remain; a worker that never woke holds nothing up.
            var spin = new SpinWait();
            while (Volatile.Read(ref _done) < chunks) spin.SpinOnce(sleep1Threshold: -1);
            item.Clear(out var error);
            if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>Claims and runs chunks of operation <paramref name="op"/> until none are left.</summary>
    private void RunChunks(int op)
    {
        while (true)
        {
            long ticket = Volatile.Read(ref _ticket);
            int chunk = (int)ticket;
            if ((int)(ticket >> 32) != op || chunk >= Volatile.Read(ref _chunks)) return;
            if (Interlocked.CompareExchange(ref _ticket, ticket + 1, ticket) != ticket) continue;
            _work!.Run(chunk, Volatile.Read(ref _chunks));
            Interlocked.Increment(ref _done);
        }
    }

    private void WorkerLoop(object? indexObj)
    {
        int index = (int)indexObj!;
        int seen = Volatile.Read(ref _generation);
        while (true)
        {
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && !_disposed)
            {
                if (++spins < SpinIterations) { Thread.SpinWait(8); continue; }
                lock (_lock)
                {
                    _sleepers++;
                    while (Volatile.Read(ref _generation) == seen && !_disposed) Monitor.Wait(_lock);
                    _sleepers--;
                }
            }
            if (_disposed) return;
            seen = Volatile.Read(ref _generation);
            // A worker beyond the current thread count sits the operation out.
            if (index < Volatile.Read(ref _participants)) RunChunks(seen);
        }
    }

    /// <summary>Stops the workers.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            Monitor.PulseAll(_lock);
        }
    }

    private abstract class WorkItem
    {
        public abstract void Run(int chunk, int chunks);
    }

    private sealed class WorkItem<TState> : WorkItem
    {
        private TState _state = default!;
        private Action<TState, int, int>? _body;
        private int _count;
        private Exception? _error;

        public void Set(TState state, Action<TState, int, int> body, int count)
        {
            _state = state; _body = body; _count = count; _error = null;
        }

        public void Clear(out Exception? error)
        {
            error = _error;
            _state = default!; _body = null; _error = null;
        }

        public override void Run(int chunk, int chunks)
        {
            int start = (int)((long)_count * chunk / chunks), end = (int)((long)_count * (chunk + 1) / chunks);
            if (end <= start) return;
            try { _body!(_state, start, end); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
        }
    }
}
