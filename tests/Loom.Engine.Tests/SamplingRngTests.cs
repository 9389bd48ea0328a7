using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

public class SamplingRngTests
{
    [Fact]
    public void SplitMix64_matches_published_sequence_from_zero()
    {
        ulong state = 0;
        Assert.Equal(0xE220A8397B1DCDAFUL, SamplingRng.SplitMix64(ref state));
        Assert.Equal(0x6E789E6AA1B965F4UL, SamplingRng.SplitMix64(ref state));
        Assert.Equal(0x06C45D188009454FUL, SamplingRng.SplitMix64(ref state));
    }

    // Expected values come from Vigna's reference C (xoshiro256starstar.c) seeded with four SplitMix64 outputs.
    [Theory]
    [InlineData(0UL, new[] { 0x99EC5F36CB75F2B4UL, 0xBF6E1F784956452AUL, 0x1A5F849D4933E6E0UL, 0x6AA594F1262D2D2CUL, 0xBBA5AD4A1F842E59UL })]
    [InlineData(42UL, new[] { 0x15780B2E0C2EC716UL, 0x6104D9866D113A7EUL, 0xAE17533239E499A1UL, 0xECB8AD4703B360A1UL, 0xFDE6DC7FE2EC5E64UL })]
    [InlineData(ulong.MaxValue, new[] { 0x8F5520D52A7EAD08UL, 0xC476A018CAA1802DUL, 0x81DE31C0D260469EUL, 0xBF658D7E065F3C2FUL, 0x913593FDA1BCA32AUL })]
    public void Xoshiro256StarStar_matches_reference_c(ulong seed, ulong[] expected)
    {
        var rng = new SamplingRng(seed);
        foreach (var e in expected) Assert.Equal(e, rng.NextUInt64());
    }

    [Fact]
    public void NextDouble_is_in_unit_interval_with_mean_one_half()
    {
        var rng = new SamplingRng(7);
        double sum = 0;
        for (var i = 0; i < 100_000; i++)
        {
            var u = rng.NextDouble();
            Assert.InRange(u, 0.0, Math.BitDecrement(1.0));
            sum += u;
        }
        Assert.InRange(sum / 100_000, 0.495, 0.505);
    }

    [Fact]
    public void Random_seeds_differ()
    {
        var a = SamplingRng.FromRandomSeed();
        var b = SamplingRng.FromRandomSeed();
        Assert.NotEqual(a.NextUInt64(), b.NextUInt64());
    }
}
