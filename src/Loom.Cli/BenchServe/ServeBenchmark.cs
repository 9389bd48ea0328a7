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
        var first = s.TestPrompt ?? s.Prompts[0];
        var test = await client.SendAsync(model, first with { OutputTokens = Math.Min(first.OutputTokens, 4) }, s.IgnoreEos, ct);
        if (!test.Success) throw new InvalidOperationException($"the test request failed: {test.Error}");

        var arrivals = ArrivalTimes(s.Prompts.Count, s.RequestRate, s.Poisson, s.Seed, s.Burstiness);
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
    public static double[] ArrivalTimes(int count, double rate, bool poisson, int seed, double burstiness = 1)
    {
        var times = new double[count];
        if (double.IsPositiveInfinity(rate)) return times;
        var rng = new Random(seed);
        double t = 0;
        for (int i = 0; i < count; i++)
        {
            times[i] = t;
            t += poisson ? Gamma(rng, burstiness) / (rate * burstiness) : 1 / rate;
        }
        return times;
    }

    /// <summary>A draw from Gamma(<paramref name="shape"/>, 1): Marsaglia and Tsang's method.</summary>
    private static double Gamma(Random rng, double shape)
    {
        if (shape == 1) return -Math.Log(1 - rng.NextDouble());
        // Shapes below 1 draw with shape + 1 and scale by U^(1/shape).
        if (shape < 1) return Gamma(rng, shape + 1) * Math.Pow(1 - rng.NextDouble(), 1 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = 1 - rng.NextDouble();
            if (Math.Log(u) < 0.5 * x * x + d - d * v + d * Math.Log(v)) return d * v;
        }
    }
}
