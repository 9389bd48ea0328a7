using System.Runtime.CompilerServices;

namespace Loom.Engine.Sampling;

/// <summary>
/// Packs (logit, token id) into one <see cref="ulong"/> whose ascending order is "higher logit first, then lower id",
/// so candidate lists sort with the primitive, allocation-free <c>Span&lt;ulong&gt;.Sort()</c> and ties break
/// deterministically toward the lowest id, the same rule greedy decoding uses.
/// </summary>
internal static class RankKey
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Make(float logit, int id) => ((ulong)~Ordered(logit) << 32) | (uint)id;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Id(ulong key) => (int)(uint)key;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Logit(ulong key)
    {
        var ord = ~(uint)(key >> 32);
        var bits = (ord & 0x8000_0000u) != 0 ? ord & 0x7FFF_FFFFu : ~ord;
        return BitConverter.UInt32BitsToSingle(bits);
    }

    /// <summary>Maps a float to a uint with the same order; adding +0 first folds -0 onto +0 so they tie, as floats compare.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Ordered(float f)
    {
        var bits = BitConverter.SingleToUInt32Bits(f + 0f);
        return (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
    }
}
