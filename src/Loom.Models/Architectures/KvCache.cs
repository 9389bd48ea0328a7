using Loom.Core.Kernels.Attention;
using Loom.Core.Tensors;

namespace Loom.Models.Architectures;

/// <summary>
/// The paged KV cache's storage: one preallocated pool of fixed-size blocks per layer for K and for V. Which
/// block belongs to which sequence is the engine's business (block tables); this class only maps
/// (block, offset) to memory. Rows are f16 (llama.cpp's default cache type) or int8 with one f32 scale per
/// head vector (<see cref="KvCacheType"/>).
/// </summary>
public sealed unsafe class KvCache : IDisposable
{
    private readonly NativeBuffer[] _k;
    private readonly NativeBuffer[]? _v, _kScale, _vScale;

    /// <summary>An f16 cache of rows of <paramref name="kvDim"/> elements.</summary>
    public KvCache(int layers, int kvDim, int numBlocks, int blockSize) : this(layers, 1, kvDim, numBlocks, blockSize) { }

    /// <summary>The cache <paramref name="c"/>'s attention reads: K and V rows, or MLA's one latent row per token.</summary>
    public static KvCache For(ModelConfig c, int numBlocks, int blockSize, KvCacheType type = KvCacheType.F16) =>
        new(c.NumLayers, c.CacheHeads, c.CacheHeadDim, numBlocks, blockSize, type, c.CacheKeysOnly);

    /// <summary>Bytes of cache one token occupies across all layers of <paramref name="c"/>.</summary>
    public static long BytesPerToken(ModelConfig c, KvCacheType type) =>
        BytesPerToken(c.NumLayers, c.CacheHeads, c.CacheHeadDim, type, c.CacheKeysOnly);

    /// <summary>
    /// A cache of <paramref name="numKvHeads"/> × <paramref name="headDim"/> rows in <paramref name="type"/>; with
    /// <paramref name="keysOnly"/> there are K rows only (multi-head latent attention reads its V inside them).
    /// </summary>
    public KvCache(int layers, int numKvHeads, int headDim, int numBlocks, int blockSize, KvCacheType type = KvCacheType.F16, bool keysOnly = false)
    {
        if (layers <= 0 || numKvHeads <= 0 || headDim <= 0 || numBlocks <= 0 || blockSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(numBlocks), "KV cache dimensions must be positive");
        if (!Enum.IsDefined(type)) throw new ArgumentOutOfRangeException(nameof(type));
        Layers = layers; NumKvHeads = numKvHeads; HeadDim = headDim; KvDim = numKvHeads * headDim;
        NumBlocks = numBlocks; BlockSize = blockSize; Type = type; KeysOnly = keysOnly;
        long slots = (long)numBlocks * blockSize;
        _k = new NativeBuffer[layers];
        if (!keysOnly) _v = new NativeBuffer[layers];
        if (type == KvCacheType.Int8) { _kScale = new NativeBuffer[layers]; if (!keysOnly) _vScale = new NativeBuffer[layers]; }
        for (int l = 0; l < layers; l++)
        {
            _k[l] = new NativeBuffer(slots * KvDim * ElementBytes(type));
            if (_v is not null) _v[l] = new NativeBuffer(slots * KvDim * ElementBytes(type));
            if (_kScale is null) continue;
            _kScale[l] = new NativeBuffer(slots * numKvHeads * sizeof(float));
            if (_vScale is not null) _vScale[l] = new NativeBuffer(slots * numKvHeads * sizeof(float));
        }
    }

    /// <summary>Only K rows are stored (multi-head latent attention); <see cref="V"/> and its kin must not be called.</summary>
    public bool KeysOnly { get; }

    public int Layers { get; }
    /// <summary>KV heads × head dim: one token's K (or V) in one layer.</summary>
    public int KvDim { get; }
    public int NumKvHeads { get; }
    public int HeadDim { get; }
    public int NumBlocks { get; }
    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }
    public KvCacheType Type { get; }

    /// <summary>Bytes of cache one token occupies across all layers (K, V and scales).</summary>
    public long TokenBytes => BytesPerToken(Layers, NumKvHeads, HeadDim, Type, KeysOnly);
    public long TotalBytes => TokenBytes * NumBlocks * BlockSize;

    /// <summary>Bytes of f16 cache one token occupies across all layers.</summary>
    public static long BytesPerToken(int layers, int kvDim) => BytesPerToken(layers, 1, kvDim, KvCacheType.F16);

    /// <summary>Bytes of cache one token occupies across all layers: K and V rows (K only when <paramref name="keysOnly"/>), plus their scales for int8.</summary>
    public static long BytesPerToken(int layers, int numKvHeads, int headDim, KvCacheType type, bool keysOnly = false) =>
        (keysOnly ? 1L : 2L) * layers * numKvHeads * (headDim * ElementBytes(type) + (type == KvCacheType.Int8 ? sizeof(float) : 0));

    private static int ElementBytes(KvCacheType type) => type == KvCacheType.Int8 ? 1 : sizeof(Half);

    /// <summary>f16 K row of the token stored at <paramref name="slot"/> = block * BlockSize + offset (f16 caches only).</summary>
    public Half* K(int layer, int slot) => (Half*)_k[layer].Pointer + (long)slot * KvDim;

    /// <summary>f16 V row of the token stored at <paramref name="slot"/> (f16 caches only).</summary>
    public Half* V(int layer, int slot) => (Half*)_v![layer].Pointer + (long)slot * KvDim;

    /// <summary>int8 K row of the token at <paramref name="slot"/> (int8 caches only); head h is elements h·HeadDim.. .</summary>
    public sbyte* KInt8(int layer, int slot) => (sbyte*)_k[layer].Pointer + (long)slot * KvDim;

    /// <summary>int8 V row of the token at <paramref name="slot"/> (int8 caches only).</summary>
    public sbyte* VInt8(int layer, int slot) => (sbyte*)_v![layer].Pointer + (long)slot * KvDim;

    /// <summary>The <see cref="NumKvHeads"/> K scales of the token at <paramref name="slot"/>: value = scale × int8.</summary>
    public float* KScales(int layer, int slot) => (float*)_kScale![layer].Pointer + (long)slot * NumKvHeads;

    /// <summary>The <see cref="NumKvHeads"/> V scales of the token at <paramref name="slot"/>.</summary>
    public float* VScales(int layer, int slot) => (float*)_vScale![layer].Pointer + (long)slot * NumKvHeads;

    /// <summary>Writes K rows only (a keys-only cache): <paramref name="k"/> holds <see cref="KvDim"/> floats per batch token.</summary>
    public void Store(ForwardBatch batch, int layer, ReadOnlySpan<float> k) => Store(batch, layer, k, default);

    /// <summary>
    /// Writes every batch token's K and V rows (<see cref="KvDim"/> floats each) of <paramref name="layer"/> into
    /// its slot, found through its sequence's block table: rounded to f16, or quantized per head for int8.
    /// </summary>
    public void Store(ForwardBatch batch, int layer, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        int kvDim = KvDim;
        fixed (float* kp = k, vp = v)
            for (int t = 0; t < batch.TokenCount; t++)
            {
                int[] table = batch.BlockTable(batch.TokenSeq[t]);
                int pos = batch.Positions[t];
                int slot = table[pos / BlockSize] * BlockSize + pos % BlockSize;
                if (Type == KvCacheType.Int8)
                {
                    int hd = HeadDim;
                    float* ks = KScales(layer, slot), vs = KeysOnly ? null : VScales(layer, slot);
                    for (int h = 0; h < NumKvHeads; h++)
                    {
                        ks[h] = Int8Rows.Quantize(kp + t * kvDim + h * hd, hd, KInt8(layer, slot) + h * hd);
                        if (!KeysOnly) vs[h] = Int8Rows.Quantize(vp + t * kvDim + h * hd, hd, VInt8(layer, slot) + h * hd);
                    }
                    continue;
                }
                HalfVec.Narrow(kp + t * kvDim, K(layer, slot), kvDim);
                if (!KeysOnly) HalfVec.Narrow(vp + t * kvDim, V(layer, slot), kvDim);
            }
    }

    /// <summary>
    /// <paramref name="layer"/> as the attention kernels read it, in KV-head rows of <paramref name="headDim"/>
    /// (an f16 cache made from a row width alone does not know its heads).
    /// </summary>
    internal PagedKv Layer(int layer, int headDim) => new(
        (void*)_k[layer].Pointer, (void*)(_v ?? _k)[layer].Pointer,
        _kScale is null ? null : (float*)_kScale[layer].Pointer, _vScale is null ? null : (float*)_vScale[layer].Pointer,
        KvDim / headDim, headDim, BlockSize, (long)NumBlocks * BlockSize);

    /// <summary>Copies every layer's K/V (and scales) of one block into another (copy-on-write of a shared partial block).</summary>
    public void CopyBlock(int src, int dst)
    {
        long rowBytes = (long)BlockSize * KvDim * ElementBytes(Type), scaleBytes = (long)BlockSize * NumKvHeads * sizeof(float);
        for (int l = 0; l < Layers; l++)
        {
            Copy(_k[l], rowBytes, src, dst);
            if (_v is not null) Copy(_v[l], rowBytes, src, dst);
            if (_kScale is not null) Copy(_kScale[l], scaleBytes, src, dst);
            if (_vScale is not null) Copy(_vScale[l], scaleBytes, src, dst);
        }
    }

    private static void Copy(NativeBuffer b, long blockBytes, int src, int dst) =>
        Buffer.MemoryCopy((byte*)b.Pointer + src * blockBytes, (byte*)b.Pointer + dst * blockBytes, blockBytes, blockBytes);

    public void Dispose()
    {
        foreach (var b in _k) b.Dispose();
        foreach (var b in _v ?? []) b.Dispose();
        foreach (var b in _kScale ?? []) b.Dispose();
        foreach (var b in _vScale ?? []) b.Dispose();
    }
}
