using Loom.Core.Tensors;

namespace Loom.Models.Architectures;

/// <summary>
/// The paged KV cache's storage: one preallocated pool of fixed-size blocks per layer for K and for V, in f16
/// (llama.cpp's default cache type). Which block belongs to which sequence is the engine's business
/// (block tables); this class only maps (block, offset) to memory.
/// </summary>
public sealed unsafe class KvCache : IDisposable
{
    private readonly NativeBuffer[] _k, _v;

    public KvCache(int layers, int kvDim, int numBlocks, int blockSize)
    {
        if (layers <= 0 || kvDim <= 0 || numBlocks <= 0 || blockSize <= 0) throw new ArgumentOutOfRangeException(nameof(numBlocks), "KV cache dimensions must be positive");
        Layers = layers; KvDim = kvDim; NumBlocks = numBlocks; BlockSize = blockSize;
        long perLayer = (long)numBlocks * blockSize * kvDim * sizeof(Half);
        _k = new NativeBuffer[layers];
        _v = new NativeBuffer[layers];
        for (int l = 0; l < layers; l++) { _k[l] = new NativeBuffer(perLayer); _v[l] = new NativeBuffer(perLayer); }
    }

    public int Layers { get; }
    /// <summary>KV heads × head dim: one token's K (or V) in one layer.</summary>
    public int KvDim { get; }
    public int NumBlocks { get; }
    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }
    public long TotalBytes => 2L * Layers * NumBlocks * BlockSize * KvDim * sizeof(Half);

    /// <summary>Bytes of cache one token occupies across all layers.</summary>
    public static long BytesPerToken(int layers, int kvDim) => 2L * layers * kvDim * sizeof(Half);

    /// <summary>K row of the token stored at <paramref name="slot"/> = block * BlockSize + offset.</summary>
    public Half* K(int layer, int slot) => (Half*)_k[layer].Pointer + (long)slot * KvDim;

    /// <summary>V row of the token stored at <paramref name="slot"/>.</summary>
    public Half* V(int layer, int slot) => (Half*)_v[layer].Pointer + (long)slot * KvDim;

    /// <summary>Copies every layer's K/V of one block into another (copy-on-write of a shared partial block).</summary>
    public void CopyBlock(int src, int dst)
    {
        long n = (long)BlockSize * KvDim;
        for (int l = 0; l < Layers; l++)
        {
            Buffer.MemoryCopy(K(l, src * BlockSize), K(l, dst * BlockSize), n * sizeof(Half), n * sizeof(Half));
            Buffer.MemoryCopy(V(l, src * BlockSize), V(l, dst * BlockSize), n * sizeof(Half), n * sizeof(Half));
        }
    }

    public void Dispose()
    {
        foreach (var b in _k) b.Dispose();
        foreach (var b in _v) b.Dispose();
    }
}
