namespace Loom.Tests;

/// <summary>Measures what a repeated step allocates on the calling thread once it is warm.</summary>
internal static class AllocationProbe
{
    /// <summary>
    /// Warms <paramref name="step"/> up past tiered JIT recompilation (which can allocate on the calling thread, later
    /// when the machine is loaded and the background compiler lags): until a window of steps allocates nothing, within
    /// <paramref name="maxSteps"/>. Then returns the bytes <paramref name="measured"/> more steps allocate (the least of
    /// up to four such runs, within <paramref name="maxSteps"/>).
    /// <paramref name="between"/> runs after every step, outside what is measured.
    /// </summary>
    public static long Measure(Action step, int measured, int maxSteps, Action? between = null, int warm = 96, int window = 16)
    {
        int done = 0;
        void Run()
        {
            step();
            done++;
        }
        for (; done < warm;)
        {
            Run();
            between?.Invoke();
            if (done == warm / 2) Thread.Sleep(500);
        }
        for (long windowBytes = -1; windowBytes != 0 && done + window + measured <= maxSteps;)
        {
            windowBytes = 0;
            for (int i = 0; i < window; i++) windowBytes += Once(Run, between);
            if (windowBytes != 0) Thread.Sleep(200);
        }
        // The least of a few measured runs: a late JIT tier-up or a loaded machine can allocate once in a run, but an
        // allocation the step itself makes shows up in every run.
        long least = long.MaxValue;
        for (int attempt = 0; attempt < 4 && least != 0 && (attempt == 0 || done + measured <= maxSteps); attempt++)
        {
            if (attempt > 0) Thread.Sleep(200);
            long allocated = 0;
            for (int i = 0; i < measured; i++) allocated += Once(Run, between);
            least = Math.Min(least, allocated);
        }
        return least;
    }

    private static long Once(Action step, Action? between)
    {
        long start = GC.GetAllocatedBytesForCurrentThread();
        step();
        long bytes = GC.GetAllocatedBytesForCurrentThread() - start;
        between?.Invoke();
        return bytes;
    }
}
