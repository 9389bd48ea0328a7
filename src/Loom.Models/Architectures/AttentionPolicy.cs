namespace Loom.Models.Architectures;

/// <summary>
/// When attention may leave llama.cpp's exact summation order for the faster tiled kernels (online softmax).
/// Reordering changes results only by float rounding, but parity with the reference is bit-exact only on the
/// exact path, so the tiled kernels take over only where they pay: long contexts. An int8 KV cache always
/// uses them (it has no exact counterpart). An engine carries one in its options and hands it to every forward
/// pass, so two engines in one process can run different policies.
/// </summary>
public sealed record AttentionPolicy
{
    /// <summary>The policy an engine runs when its options name none.</summary>
    public static AttentionPolicy Default { get; } = new();

    /// <summary>Forces the exact path for f16 caches at every length (parity runs, debugging).</summary>
    public bool ExactOnly { get; init; }

    /// <summary>A decode token's context must be at least this long before it is split across threads (Flash-Decoding).</summary>
    public int SplitMinPositions { get; init; } = 1024;

    /// <summary>Fewest positions one split handles, so that merging the splits stays cheap beside them.</summary>
    public const int SplitChunk = 256;

    /// <summary>A prompt chunk whose last token attends at least this many positions runs tiled (flash-style).</summary>
    public int TiledMinPositions { get; init; } = 512;

    /// <summary>Prompt tokens that share each widened K/V tile in the tiled path.</summary>
    public const int TiledQueryTokens = 16;

    /// <summary>Sends every f16 decode token through the online path, even unsplit (tests of the online kernels).</summary>
    public bool ForceOnline { get; init; }

    /// <summary>Plans decode splits for this many threads instead of the pool's (tests of the split kernels).</summary>
    public int? PlanThreads { get; init; }

    /// <summary>
    /// Splits for a decode token with <paramref name="positions"/> to attend, when <paramref name="units"/>
    /// (decode tokens × KV heads) work items would otherwise be spread over <paramref name="threads"/>:
    /// enough to give every thread two items, never fewer than <see cref="SplitChunk"/> positions each.
    /// </summary>
    public static int Splits(int positions, int units, int threads)
    {
        int wanted = (2 * threads + units - 1) / Math.Max(1, units);
        return Math.Clamp(Math.Min(wanted, positions / SplitChunk), 1, 64);
    }
}
