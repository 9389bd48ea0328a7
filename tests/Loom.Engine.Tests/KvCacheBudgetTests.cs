namespace Loom.Engine.Tests;

public class KvCacheBudgetTests
{
    [Theory]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("512MiB", 512L << 20)]
    [InlineData("512 mib", 512L << 20)]
    [InlineData("1.5GB", 1_500_000_000L)]
    [InlineData("64k", 64L << 10)]
    [InlineData("1000000", 1_000_000L)]
    [InlineData("1b", 1L)]
    public void ParsesByteSizes(string text, long bytes)
    {
        var b = KvCacheBudget.Parse(text);
        Assert.Equal(bytes, b.Bytes);
        Assert.Null(b.Fraction);
        Assert.Equal(bytes, b.ApplyTo(new EngineOptions()).KvCacheBytes);
    }

    [Theory]
    [InlineData("0.3", 0.3)]
    [InlineData("1", 1.0)]
    [InlineData(".05", 0.05)]
    public void ParsesFractionsOfAvailableMemory(string text, double fraction)
    {
        var b = KvCacheBudget.Parse(text);
        Assert.Null(b.Bytes);
        Assert.Equal(fraction, b.Fraction);
        var o = b.ApplyTo(new EngineOptions { KvCacheBytes = 123 });
        Assert.Null(o.KvCacheBytes);
        Assert.Equal(fraction, o.KvCacheFraction);
        Assert.Equal((long)(fraction * 1000), b.Resolve(1000));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("-1GiB")]
    [InlineData("lots")]
    [InlineData("2XB")]
    [InlineData("NaN")]
    public void RejectsNonsense(string text) => Assert.Throws<ArgumentException>(() => KvCacheBudget.Parse(text));

    [Fact]
    public void AvailableMemoryIsPositive() => Assert.True(KvCacheBudget.AvailableMemoryBytes() > 0);
}
