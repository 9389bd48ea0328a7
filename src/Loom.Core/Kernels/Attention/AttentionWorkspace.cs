using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Loom.Core.Kernels.Attention;

/// <summary>
/// One worker thread's attention scratch, grown to the largest request seen and then reused, so attention
/// allocates nothing once warm. Per thread because the parallel dispatch hands out index ranges, not thread ids.
/// </summary>
internal sealed unsafe class AttentionWorkspace
{
    [ThreadStatic] private static AttentionWorkspace? t_current;

    /// <summary>Rounded Q rows of the heads one work item handles.</summary>
    public float[] Q = [];
    /// <summary>Scores, then probabilities, of those heads over the positions (or a split's positions).</summary>
    public float[] Scores = [];
    /// <summary>One tile of K or V rows widened to float.</summary>
    public float[] Tile = [];
    /// <summary>Per-head lane accumulators of the weighted value sum.</summary>
    public float[] Acc = [];
    /// <summary>Double-precision tails of the single-token value sum.</summary>
    public double[] Sum = [];
    /// <summary>Online softmax: running maxima then denominators, one per query row.</summary>
    public float[] State = [];
    /// <summary>Online softmax: each query row's causal end (exclusive).</summary>
    public int[] Ends = [];
    /// <summary>Online softmax: each query row's first visible position (a sliding layer's window start).</summary>
    public int[] Starts = [];

    public static AttentionWorkspace Current => t_current ??= new AttentionWorkspace();

    public static void Ensure<T>(ref T[] a, long n)
    {
        if (a.Length < n) a = GC.AllocateUninitializedArray<T>((int)Math.Max(n, a.Length * 3L / 2), pinned: true);
    }

    /// <summary>The first element of a buffer, which is pinned (<see cref="Ensure"/> allocates it so).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T* Ptr<T>(T[] a) where T : unmanaged => (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(a));
}
