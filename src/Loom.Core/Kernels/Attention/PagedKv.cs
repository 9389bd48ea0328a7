using System.Runtime.CompilerServices;

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

    /// <summary>Widens the K (or V) rows of KV head kvh at positions j0..j0+rows, found through <paramref name="table"/>, into consecutive float rows.</summary>
    // Called once per tile, so a call costs nothing; inlined, its body used up the JIT's inlining budget of the
    // value loops that call it, leaving their per-position FMAs as calls (twice as slow where Vector512 is emulated).
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void Widen(int[] table, int kvh, int j0, int rows, bool keys, float* dst)
    {
        int hd = HeadDim, bs = BlockSize;
        int block = j0 / bs, off = j0 % bs;
        for (int r = 0; r < rows; r++)
        {
            int slot = table[block] * bs + off;
            if (Int8)
            {
                sbyte* q = (sbyte*)(keys ? K : V) + (long)slot * KvDim + kvh * hd;
                Int8Rows.Dequantize(q, (keys ? KScales : VScales)[(long)slot * NumKvHeads + kvh], dst + r * hd, hd);
            }
            else HalfVec.Widen((Half*)(keys ? K : V) + (long)slot * KvDim + kvh * hd, dst + r * hd, hd);
            if (++off == bs) { off = 0; block++; }
        }
    }
}
