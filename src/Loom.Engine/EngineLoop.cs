namespace Loom.Engine;

/// <summary>
/// The background thread that steps an engine for servers and concurrent callers: it steps while there is work and
/// sleeps on a signal that submissions and aborts raise.
/// </summary>
internal sealed class EngineLoop(Func<bool> step, Func<bool> hasWork, Action<Exception> failAll) : IDisposable
{
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;

    public bool IsRunning => _thread is not null;

    public void Start()
    {
        if (_thread is not null) return;
        _thread = new Thread(Run) { IsBackground = true, Name = "loom-engine" };
        _thread.Start();
    }

    /// <summary>There is new work (or an abort): a sleeping loop steps again.</summary>
    public void Wake() => _signal.Release();

    private void Run()
    {
        var ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            bool worked;
            try { worked = step(); }
            catch (Exception e)
            {
                // Step contains failures to the requests they concern; anything that still escapes fails every
                // request in flight, so none waits forever on a loop that cannot serve it.
                failAll(e);
                worked = false;
            }
            if (!worked && !hasWork())
            {
                try { _signal.Wait(ct); } catch (OperationCanceledException) { break; }
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread?.Join();
    }
}
