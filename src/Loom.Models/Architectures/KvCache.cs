using Loom.Core.Kernels.Attention;
using Loom.Core.Tensors;

namespace Loom.Models.Architectures;

/// <summary>
/// The paged KV cache's storage: preallocated pools of fixed-size blocks per layer for K and for V. Which
/// block belongs to which sequence is the engine's business (block tables); this class only maps
/// (block, offset) to memory. Rows are f16 (llama.cpp's default cache type) or int8 with one f32 scale per
/// head vector (<see cref="KvCacheType"/>). Layers fall into one or two groups, each with its own block count
/// and block ids (vLLM's KV cache groups): when sliding-window layers get a pool of their own
/// (<see cref="For(ModelConfig, int, int, KvCacheType, int)"/>), a sequence holds only its window's blocks there,
/// so that pool is small; its block 0 is the null block, which released table entries point to and nothing reads.
/// </summary>
public sealed unsafe class KvCache : IDisposable
{
    private readonly NativeBuffer[] _k;
    private readonly NativeBuffer[]? _v, _kScale, _vScale;
    private readonly int[] _layerGroup, _groupBlocks, _groupWindow;
    private readonly long _sequenceSlots;

    /// <summary>An f16 cache of rows of <paramref name="kvDim"/> elements.</summary>
    public KvCache(int layers, int kvDim, int numBlocks, int blockSize) : this(layers, 1, kvDim, numBlocks, blockSize) { }

    /// <summary>The cache <paramref name="c"/>'s attention reads: K and V rows, or MLA's one latent row per token; one block pool for every layer.</summary>
    public static KvCache For(ModelConfig c, int numBlocks, int blockSize, KvCacheType type = KvCacheType.F16) =>
        new(c.NumLayers, c.CacheHeads, c.CacheHeadDim, numBlocks, blockSize, type, c.CacheKeysOnly);

    /// <summary>
    /// As the other overload, but with <paramref name="slidingBlocks"/> &gt; 0 and a model with sliding layers, those
    /// layers get a pool of their own of that many blocks (plus its null block 0) as group 1, or as group 0 when every
    /// layer slides (then <paramref name="numBlocks"/> is unused and no sequence length is bounded by the cache).
    /// </summary>
    public static KvCache For(ModelConfig c, int numBlocks, int blockSize, KvCacheType type, int slidingBlocks)
    {
        if (slidingBlocks <= 0 || c.SlidingWindow == 0) return For(c, numBlocks, blockSize, type);
        var sliding = Enumerable.Range(0, c.NumLayers).Select(c.IsSliding).ToArray();
        bool anyFull = sliding.Contains(false);
        int[] groups = anyFull ? [numBlocks, slidingBlocks + 1] : [slidingBlocks + 1];
        int[] windows = anyFull ? [0, c.SlidingWindow] : [c.SlidingWindow];
        var layerGroup = sliding.Select(s => s && anyFull ? 1 : 0).ToArray();
        long sequenceSlots = anyFull ? (long)numBlocks * blockSize : c.ContextLength;
        return new KvCache(c.NumLayers, c.CacheHeads, c.CacheHeadDim, groups, windows, layerGroup, blockSize, type, c.CacheKeysOnly, sequenceSlots);
    }

    /// <summary>Bytes of cache one token occupies across all layers of <paramref name="c"/>.</summary>
    public static long BytesPerToken(ModelConfig c, KvCacheType type) =>
        BytesPerToken(c.NumLayers, c.CacheHeads, c.CacheHeadDim, type, c.CacheKeysOnly);

    /// <summary>Bytes of cache one token occupies across the sliding layers of <paramref name="c"/> (0 when none slides).</summary>
    public static long SlidingBytesPerToken(ModelConfig c, KvCacheType type)
    {
        int sliding = Enumerable.Range(0, c.NumLayers).Count(c.IsSliding);
        return sliding == 0 ? 0 : BytesPerToken(sliding, c.CacheHeads, c.CacheHeadDim, type, c.CacheKeysOnly);
    }

    /// <summary>
    /// A cache of <paramref name="numKvHeads"/> × <paramref name="headDim"/> rows in <paramref name="type"/>; with
    /// <paramref name="keysOnly"/> there are K rows only (multi-head latent attention reads its V inside them).
    /// </summary>
    public KvCache(int layers, int numKvHeads, int headDim, int numBlocks, int blockSize, KvCacheType type = KvCacheType.F16, bool keysOnly = false)
        : this(layers, numKvHeads, headDim, [numBlocks], [0], new int[Math.Max(0, layers)], blockSize, type, keysOnly, (long)numBlocks * blockSize) { }

    private KvCache(int layers, int numKvHeads, int headDim, int[] groupBlocks, int[] groupWindow, int[] layerGroup, int blockSize,
        KvCacheType type, bool keysOnly, long sequenceSlots)
    {
        if (layers <= 0 || numKvHeads <= 0 || headDim <= 0 || groupBlocks.Any(b => b <= 0) || blockSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(groupBlocks), "KV cache dimensions must be positive");
        if (!Enum.IsDefined(type)) throw new ArgumentOutOfRangeException(nameof(type));
        Layers = layers; NumKvHeads = numKvHeads; HeadDim = headDim; KvDim = numKvHeads * headDim;
        BlockSize = blockSize; Type = type; KeysOnly = keysOnly;
        _groupBlocks = groupBlocks; _groupWindow = groupWindow; _layerGroup = layerGroup; _sequenceSlots = sequenceSlots;
        _k = new NativeBuffer[layers];
        if (!keysOnly) _v = new NativeBuffer[layers];
        if (type == KvCacheType.Int8) { _kScale = new NativeBuffer[layers]; if (!keysOnly) _vScale = new NativeBuffer[layers]; }
        for (int l = 0; l < layers; l++)
        {
            long slots = (long)groupBlocks[layerGroup[l]] * blockSize;
            _k[l] = new NativeBuffer(slots * KvDim * ElementBytes(type));
            if (_v is not null) _v[l] = new NativeBuffer(slots * KvDim * ElementBytes(type));
            if (_kScale is null) continue;
            _kScale[l] = new NativeBuffer(slots * numKvHeads * sizeof(float));
            if (_vScale is not null) _vScale[l] = new NativeBuffer(slots * numKvHeads * sizeof(float));
        }
    }

    /// <summary>Block groups: 1, or 2 when the sliding layers have their own pool.</summary>
    public int Groups => _groupBlocks.Length;
    /// <summary>The group whose block table <paramref name="layer"/> reads and writes through.</summary>
    public int GroupOf(int layer) => _layerGroup[layer];
    /// <summary>Blocks of group <paramref name="group"/>, a sliding group's null block 0 included.</summary>
    public int GroupBlocks(int group) => _groupBlocks[group];
    /// <summary>The window of group <paramref name="group"/>'s layers; 0 for full attention.</summary>
    public int GroupWindow(int group) => _groupWindow[group];

    /// <summary>Only K rows are stored (multi-head latent attention); <see cref="V"/> and its kin must not be called.</summary>
    public bool KeysOnly { get; }

    public int Layers { get; }
    /// <summary>KV heads × head dim: one token's K (or V) in one layer.</summary>
    public int KvDim { get; }
    public int NumKvHeads { get; }
    public int HeadDim { get; }
    /// <summary>Blocks of group 0 (the full-attention layers', or every layer's with one group).</summary>
    public int NumBlocks => _groupBlocks[0];
    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }
    public KvCacheType Type { get; }

    /// <summary>Bytes of cache one token occupies across all layers (K, V and scales).</summary>
    public long TokenBytes => BytesPerToken(Layers, NumKvHeads, HeadDim, Type, KeysOnly);
    /// <summary>Bytes of the whole cache: every layer's slots in its group.</summary>
    public long TotalBytes
    {
        get
        {
            long perLayer = BytesPerToken(1, NumKvHeads, HeadDim, Type, KeysOnly), total = 0;
            for (int l = 0; l < Layers; l++) total += perLayer * _groupBlocks[_layerGroup[l]] * BlockSize;
            return total;
        }
    }

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
                int[] table = batch.BlockTable(batch.TokenSeq[t], _layerGroup[layer]);
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
        KvDim / headDim, headDim, BlockSize, _sequenceSlots);

    /// <summary>Copies every layer's K/V (and scales) of one block into another (copy-on-write of a shared partial block).</summary>
    public void CopyBlock(int src, int dst) => CopyBlock(0, src, dst);

    /// <summary>Copies the K/V (and scales) of one block of group <paramref name="group"/> into another, in every layer of that group.</summary>
    public void CopyBlock(int group, int src, int dst)
    {
        long rowBytes = (long)BlockSize * KvDim * ElementBytes(Type), scaleBytes = (long)BlockSize * NumKvHeads * sizeof(float);
        for (int l = 0; l < Layers; l++)
        {
            if (_layerGroup[l] != group) continue;
            Copy(_k[l], rowBytes, src, dst);
            if (_v is not null) Copy(_v[l], rowBytes, src, dst);
            if (_kScale is not null) Copy(_kScale[l], scaleBytes, src, dst);
            if (_vScale is not null) Copy(_vScale[l], scaleBytes, src, dst);
        }
    }

    /// <summary>
    /// Fills one block of group <paramref name="group"/> with NaN in every layer of the group (K, V and int8 scales):
    /// a test's way of proving that a block no table should reach is never read.
    /// </summary>
    public void Poison(int group, int block)
    {
        long rows = (long)BlockSize * KvDim, scales = (long)BlockSize * NumKvHeads;
        for (int l = 0; l < Layers; l++)
        {
            if (_layerGroup[l] != group) continue;
            foreach (var b in new[] { _k[l], _v?[l] })
            {
                if (b is null) continue;
                if (Type == KvCacheType.Int8) new Span<sbyte>((sbyte*)b.Pointer + block * rows, (int)rows).Fill(sbyte.MaxValue);
                else new Span<Half>((Half*)b.Pointer + block * rows, (int)rows).Fill(Half.NaN);
            }
            foreach (var b in new[] { _kScale?[l], _vScale?[l] })
                if (b is not null) new Span<float>((float*)b.Pointer + block * scales, (int)scales).Fill(float.NaN);
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
