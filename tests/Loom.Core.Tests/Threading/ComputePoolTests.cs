using Loom.Tests;
using Loom.Core.Threading;

namespace Loom.Core.Tests.Threading;

public class ComputePoolTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1000)]
    [InlineData(3, 17)]
    [InlineData(4, 100_000)]
    public void CoversEveryItemOnce(int threads, int count)
    {
        using var pool = new ComputePool(threads);
        for (int round = 0; round < 50; round++)
        {
            var hits = new int[count];
            pool.For(count, 1_000_000, hits, static (h, start, end) => { for (int i = start; i < end; i++) Interlocked.Increment(ref h[i]); });
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void ExceptionsReachTheCallerAndThePoolKeepsWorking()
    {
        using var pool = new ComputePool(2);
        var e = Assert.Throws<InvalidOperationException>(() =>
            pool.For(100, 1_000_000, 0, static (_, start, _) => { if (start > 0) throw new InvalidOperationException("boom"); }));
        Assert.Equal("boom", e.Message);
        int sum = 0;
        pool.For(100, 1_000_000, 0, (_, start, end) => Interlocked.Add(ref sum, end - start));
        Assert.Equal(100, sum);
    }

    [Fact]
    public void NestedAndConcurrentCallsRunInline()
    {
        using var pool = new ComputePool(2);
        long total = 0;
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 50; i++)
                pool.For(64, 1_000_000, pool, (p, start, end) =>
                    p.For(end - start, 1_000_000, 0, (_, s, e) => Interlocked.Add(ref total, e - s)));
        });
        Assert.Equal(8L * 50 * 64, total);
    }

    [Fact]
    public void ThreadCountCanChangeBetweenOperations()
    {
        using var pool = new ComputePool(1);
        foreach (int t in new[] { 3, 1, 2, 4, 2 })
        {
            pool.Threads = t;
            Assert.Equal(t, pool.Threads);
            int sum = 0;
            pool.For(1000, 1_000_000, 0, (_, start, end) => Interlocked.Add(ref sum, end - start));
            Assert.Equal(1000, sum);
        }
    }

    [Fact]
    public void HandingOutWorkAllocatesNothing()
    {
        using var pool = new ComputePool(2);
        var data = new long[4096];
        Action<long[], int, int> body = static (d, start, end) => { for (int i = start; i < end; i++) d[i]++; };
        Assert.Equal(0, AllocationProbe.Measure(() => pool.For(data.Length, 1_000_000, data, body), measured: 1000, maxSteps: 20_000));
    }

    [Fact]
    public void TheSharedPoolIsNeverResized() =>
        Assert.Throws<InvalidOperationException>(() => ComputePool.Shared.Threads = 1);
}
