using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Loom.Core.Tensors;

namespace Loom.Engine.Bench;

/// <summary>
/// Measures how fast this machine streams memory into the cores: a multi-threaded sum over a buffer far larger than
/// any cache, best of a few runs. Token generation reads every weight once per token, so this is its speed limit.
/// </summary>
public sealed unsafe class BandwidthProbe : IDisposable
{
    private readonly NativeBuffer _buffer;

    /// <summary>Allocates and touches a buffer of <paramref name="bytes"/> (1 GiB by default; a multiple of 64).</summary>
    public BandwidthProbe(long bytes = 1L << 30)
    {
        if (bytes < 4096 || bytes % 64 != 0) throw new ArgumentOutOfRangeException(nameof(bytes), "probe buffer must be a multiple of 64 bytes, at least 4 KiB");
        _buffer = new NativeBuffer(bytes);
        // Writing every page now keeps page faults out of the measurement.
        var p = (float*)_buffer.Pointer;
        for (long i = 0; i < bytes / sizeof(float); i++) p[i] = i & 1023;
    }

    public long Bytes => _buffer.Length;

    /// <summary>Bytes per second (in GB/s, 1e9) reading the buffer once with <paramref name="threads"/> threads, best of <paramref name="runs"/>.</summary>
    public double MeasureGBps(int threads, int runs = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        double best = 0;
        Sum(threads); // warm-up: threads started, code jitted
        Sum(threads, prefetch: true);
        for (int r = 0; r < runs; r++)
            foreach (bool prefetch in (ReadOnlySpan<bool>)[false, true])
            {
                var sw = Stopwatch.StartNew();
                Sum(threads, prefetch);
                best = Math.Max(best, Bytes / sw.Elapsed.TotalSeconds / 1e9);
            }
        return best;
    }

    /// <summary>
    /// Sums the whole buffer as floats, split into one contiguous range per thread. With <paramref name="prefetch"/>,
    /// each thread also asks for the lines 2 KiB ahead, as the decode kernels do: on some machines (a 2-core Ice Lake
    /// VM) the hardware prefetchers alone stream at two thirds of what those kernels reach, and a ceiling below what
    /// is reached measures nothing.
    /// </summary>
    public float Sum(int threads, bool prefetch = false)
    {
        long vectors = Bytes / 32;
        var partial = new float[threads];
        var p = (Vector256<float>*)_buffer.Pointer;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            long start = vectors * t / threads, end = vectors * (t + 1) / threads;
            partial[t] = SumRange(p, start, end, prefetch);
        });
        return partial.Sum();
    }

    private static float SumRange(Vector256<float>* p, long start, long end, bool prefetch)
    {
        // Four independent accumulators so the adds never wait on each other; memory is the only limit.
        Vector256<float> a = default, b = default, c = default, d = default;
        long i = start;
        for (; i + 4 <= end; i += 4)
        {
            if (prefetch && Sse.IsSupported)
            {
                // 64 vectors = 2 KiB ahead, both lines of this step's 128 bytes.
                Sse.Prefetch0(p + i + 64);
                Sse.Prefetch0(p + i + 66);
            }
            a += p[i]; b += p[i + 1]; c += p[i + 2]; d += p[i + 3];
        }
        for (; i < end; i++) a += p[i];
        return Vector256.Sum(a + b + (c + d));
    }

    public void Dispose() => _buffer.Dispose();
}
