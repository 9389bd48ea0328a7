using System.Numerics;
using System.Security.Cryptography;

namespace Loom.Engine.Sampling;

/// <summary>
/// xoshiro256** (Blackman and Vigna) seeded through SplitMix64: a fixed, documented algorithm, so a seed
/// reproduces the same draws on every platform and .NET version, which <see cref="System.Random"/> does not promise.
/// </summary>
/// <remarks>A mutable struct: keep it in a field and call it through that field, never through a copy.</remarks>
public struct SamplingRng
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Seeds the four state words with consecutive SplitMix64 outputs, as the xoshiro authors recommend.</summary>
    public SamplingRng(ulong seed)
    {
        var sm = seed;
        _s0 = SplitMix64(ref sm);
        _s1 = SplitMix64(ref sm);
        _s2 = SplitMix64(ref sm);
        _s3 = SplitMix64(ref sm);
    }

    /// <summary>A generator with a seed from the operating system's random source.</summary>
    public static SamplingRng FromRandomSeed()
    {
        Span<byte> b = stackalloc byte[8];
        RandomNumberGenerator.Fill(b);
        return new SamplingRng(BitConverter.ToUInt64(b));
    }

    /// <summary>One SplitMix64 step: advances <paramref name="state"/> and returns the mixed output.</summary>
    public static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        var result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform double in [0, 1) from the top 53 bits, so every value is exactly representable.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
}
