using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Loom.Core.Kernels.Attention;

/// <summary>
/// One layer of a paged K/V cache as the attention kernels read it: a row of <see cref="KvDim"/> elements per
/// slot (block × block size + offset), f16, or int8 with one f32 scale per KV head. The cache owns the memory;
/// this only addresses it, so the kernels need not know the model's cache type.
/// </summary>
internal readonly unsafe struct PagedKv
{
    public readonly void* K, V;
    /// <summary>Per-slot, per-KV-head scales of an int8 cache; null for f16.</summary>
    public readonly float* KScales, VScales;
    public readonly int KvDim, NumKvHeads, HeadDim, BlockSize;
    /// <summary>Slots the cache holds: the longest context it can ever serve.</summary>
    public readonly long Slots;

    public PagedKv(void* k, void* v, float* kScales, float* vScales, int numKvHeads, int headDim, int blockSize, long slots)
    {
        K = k; V = v; KScales = kScales; VScales = vScales;
        NumKvHeads = numKvHeads; HeadDim = headDim; KvDim = numKvHeads * headDim; BlockSize = blockSize; Slots = slots;
    }

    public bool Int8 => KScales != null;

    /// <summary>
    /// Asks for the K (or V) rows of KV head kvh at positions j0..j0+rows ahead of their <see cref="Widen"/>: a head's
    /// rows are strided slices of the cache that the weights streaming through each step evicted, and the widening
    /// loop alone waits on each one.
    /// </summary>
    public void Prefetch(int[] table, int kvh, int j0, int rows, bool keys)
    {
        if (!Sse.IsSupported) return;
        int elem = Int8 ? 1 : 2, bytes = HeadDim * elem;
        for (int r = 0, run; r < rows; r += run)
        {
            byte* row = (byte*)(keys ? K : V) + (Slot(table, j0 + r, rows - r, out run) * KvDim + kvh * HeadDim) * elem;
            for (int i = 0; i < run; i++, row += KvDim * elem)
                for (int o = 0; o < bytes; o += 64) Sse.Prefetch0(row + o);
        }
    }

    /// <summary>
    /// The slot of position <paramref name="j"/>, and in <paramref name="run"/> how many of the next
    /// <paramref name="left"/> positions follow it in the same block, one slot apart.
    /// </summary>
    private long Slot(int[] table, int j, int left, out int run)
    {
        int off = j % BlockSize;
        run = Math.Min(left, BlockSize - off);
        return (long)table[j / BlockSize] * BlockSize + off;
    }

    /// <summary>
    /// Widens the K (or V) rows of KV head kvh at positions j0..j0+rows, found through <paramref name="table"/>, into
    /// consecutive float rows; an f16 cache's rows <paramref name="unbiased"/> (times 2^-112, see
    /// <see cref="HalfVec.WidenUnbiased"/>) when asked.
    /// </summary>
    // Called once per tile, so a call costs nothing; inlined, its body used up the JIT's inlining budget of the
    // value loops that call it, leaving their per-position FMAs as calls (twice as slow where Vector512 is emulated).
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void Widen(int[] table, int kvh, int j0, int rows, bool keys, float* dst, bool unbiased = false)
    {
        int hd = HeadDim;
        // A block's rows are one slot apart: walk each run of them without going back to the table.
        for (int r = 0, run; r < rows; r += run)
        {
            long slot = Slot(table, j0 + r, rows - r, out run);
            if (Int8)
            {
                sbyte* q = (sbyte*)(keys ? K : V) + slot * KvDim + kvh * hd;
                float* scales = (keys ? KScales : VScales) + slot * NumKvHeads + kvh;
                for (int i = 0; i < run; i++) Int8Rows.Dequantize(q + (long)i * KvDim, scales[(long)i * NumKvHeads], dst + (long)(r + i) * hd, hd);
            }
            else
            {
                Half* h = (Half*)(keys ? K : V) + slot * KvDim + kvh * hd;
                if (unbiased) for (int i = 0; i < run; i++) HalfVec.WidenUnbiased(h + (long)i * KvDim, dst + (long)(r + i) * hd, hd);
                else for (int i = 0; i < run; i++) HalfVec.Widen(h + (long)i * KvDim, dst + (long)(r + i) * hd, hd);
            }
        }
    }
}
