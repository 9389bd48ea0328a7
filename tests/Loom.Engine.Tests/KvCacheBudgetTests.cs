using Loom.Engine.Speculative;
using Loom.Models.Architectures;

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

    /// <summary>
    /// --kv-cache-memory covers a draft model's cache too: both caches together stay within the budget, with as
    /// many blocks each, so the target keeps less than it would alone.
    /// </summary>
    [Fact]
    public void ADraftModelsCacheIsCountedInTheBudget()
    {
        using var model = TinyModels.Load();
        using var draft = TinyModels.LoadOther();
        long budget = 1 << 20;
        var plainOptions = new EngineOptions { KvCacheBytes = budget, MaxKvTokens = 1 << 20 };
        var specOptions = plainOptions with { Speculative = new SpeculativeOptions { Method = SpeculativeMethod.DraftModel, DraftModel = draft } };
        using var plain = new LlmEngine(model, plainOptions);
        using var spec = new LlmEngine(model, specOptions);

        Assert.Equal(plain.Cache.TotalBytes, plain.KvCacheBytes);
        Assert.True(plain.KvCacheBytes <= budget);
        Assert.True(spec.KvCacheBytes <= budget, $"{spec.KvCacheBytes} > {budget}");
        // Same shape: each cache takes half, to within a block of each.
        Assert.Equal(plain.Cache.NumBlocks / 2, spec.Cache.NumBlocks);
        Assert.Equal(2 * spec.Cache.TotalBytes, spec.KvCacheBytes);
        Assert.Equal(spec.Cache.NumBlocks, ModelRunner.CacheBlocks(model.Config, specOptions));

        // And it still generates what the target alone does.
        var prompt = TinyModels.RandomTokens(new Random(3), 20, model.Config.VocabSize);
        Assert.Equal(plain.Generate([prompt], TinyModels.Greedy(12))[0].Choices[0].TokenIds, spec.Generate([prompt], TinyModels.Greedy(12))[0].Choices[0].TokenIds);
    }

    /// <summary>A budget too small for one block of both caches is refused with both counted in the message.</summary>
    [Fact]
    public void ABudgetWithoutRoomForBothCachesIsRefused()
    {
        using var model = TinyModels.Load();
        using var draft = TinyModels.LoadOther();
        long targetBlock = KvCache.BytesPerToken(model.Config.NumLayers, model.Config.NumKvHeads, model.Config.HeadDim, KvCacheType.F16) * 16;
        var o = new EngineOptions { KvCacheBytes = targetBlock + 1, Speculative = new SpeculativeOptions { Method = SpeculativeMethod.DraftModel, DraftModel = draft } };
        var e = Assert.Throws<ArgumentException>(() => new LlmEngine(model, o));
        Assert.Contains($"no block of {2 * targetBlock} bytes", e.Message);
    }
}
