using System.Diagnostics;

namespace Loom.Cli.BenchServe;

/// <summary>
/// Runs one benchmark as vLLM's <c>bench serve</c> does: requests arrive on a Poisson (or evenly spaced) schedule at
/// the request rate, and wait for a slot when <see cref="ServeBenchSettings.MaxConcurrency"/> are in flight; an
/// infinite rate with a concurrency limit is that many closed-loop clients.
/// </summary>
internal static class ServeBenchmark
{
    /// <summary>Sends every prompt of <paramref name="s"/>; <paramref name="progress"/> hears the completed and failed counts as requests end.</summary>
    public static async Task<ServeBenchResult> RunAsync(ServeBenchSettings s, Action<int, int>? progress, CancellationToken ct)
    {
        using var client = new StreamingClient(s.BaseUrl, s.Endpoint, s.ApiKey);
        string model = s.Model ?? await client.FirstModelAsync(ct);

        // One untimed request first, as vLLM does: a wrong model or endpoint fails here with the server's own words,
        // and connection setup and JIT stay out of the figures.
        var test = await client.SendAsync(model, s.Prompts[0] with { OutputTokens = Math.Min(s.Prompts[0].OutputTokens, 4) }, s.IgnoreEos, ct);
        if (!test.Success) throw new InvalidOperationException($"the test request failed: {test.Error}");

        var arrivals = ArrivalTimes(s.Prompts.Count, s.RequestRate, s.Poisson, s.Seed);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(s.MaxDuration);
        using var slots = s.MaxConcurrency is int c ? new SemaphoreSlim(c) : null;
        var results = new RequestResult?[s.Prompts.Count];
        int completed = 0, failed = 0;
        var tasks = new List<Task>();
        var clock = Stopwatch.StartNew();

        async Task One(int i)
        {
            try
            {
                double start = clock.Elapsed.TotalSeconds;
                var r = await client.SendAsync(model, s.Prompts[i], s.IgnoreEos, limit.Token);
                results[i] = r with { StartS = start };
                if (r.Success) Interlocked.Increment(ref completed);
                else if (!r.Cancelled) Interlocked.Increment(ref failed);
                if (!r.Cancelled) progress?.Invoke(Volatile.Read(ref completed), Volatile.Read(ref failed));
            }
            finally { slots?.Release(); }
        }

        try
        {
            for (int i = 0; i < arrivals.Length; i++)
            {
                var wait = TimeSpan.FromSeconds(arrivals[i]) - clock.Elapsed;
                if (wait > TimeSpan.Zero) await Task.Delay(wait, limit.Token);
                if (slots is not null) await slots.WaitAsync(limit.Token);
                tasks.Add(One(i));
            }
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            // The time limit: requests not yet sent are never sent.
        }
        await Task.WhenAll(tasks);
        ct.ThrowIfCancellationRequested();
        double duration = clock.Elapsed.TotalSeconds;
        return new ServeBenchResult(model, s, results.Where(r => r is not null).Select(r => r!).ToArray(), duration,
            timedOut: limit.IsCancellationRequested);
    }

    /// <summary>Seconds from the start at which each request is sent.</summary>
    public static double[] ArrivalTimes(int count, double rate, bool poisson, int seed)
    {
        var times = new double[count];
        if (double.IsPositiveInfinity(rate)) return times;
        var rng = new Random(seed);
        double t = 0;
        for (int i = 0; i < count; i++)
        {
            times[i] = t;
            t += poisson ? -Math.Log(1 - rng.NextDouble()) / rate : 1 / rate;
        }
        return times;
    }
}
