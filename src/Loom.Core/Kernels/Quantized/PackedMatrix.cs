using Loom.Core.Tensors;

namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Multiplies one tile of <see cref="PackedMatrix.TileRows"/> packed weight rows with activation rows in the
/// <see cref="PackedActivations"/> format: y[t·yStride + r] = dot(row r, x row t).
/// </summary>
public unsafe delegate void PackedTileKernel(byte* tile, int blocks, byte* x, nint xRowBytes, int tokens, float* y, nint yStride);

/// <summary>
/// Multiplies a tile pair (2·<see cref="PackedMatrix.TileRows"/> rows, the two tiles' blocks interleaved) with
/// activation rows, so each activation broadcast and scale serves both.
/// </summary>
public unsafe delegate void PackedPairKernel(byte* pair, int blocks, byte* x, nint xRowBytes, int tokens, float* y, nint yStride);

/// <summary>
/// A weight matrix repacked into tiles of <see cref="TileRows"/> rows whose blocks are interleaved so that each
/// 32-bit lane of a vector holds one row's quants: integer dot products then leave one row per lane, with no
/// horizontal sums and the scale arithmetic shared by the tile's rows (see <see cref="Q4_0Packed"/>). A kernel
/// reads one contiguous stream: where there is a <see cref="PairKernel"/>, tiles 2p and 2p+1 are stored as pairs
/// with their blocks interleaved (block b of one, block b of the other, …), since walking two tiles a few KiB apart
/// in step defeats the hardware prefetchers. At most 3% larger than the original (K-quants keep their scales
/// unpacked); the file mapping is left untouched.
/// </summary>
public sealed unsafe class PackedMatrix : IDisposable
{
    /// <summary>Rows per tile.</summary>
    public const int TileRows = 8;

    private readonly NativeBuffer _buffer;
    private readonly TilePacker _pack;

    /// <summary>
    /// Packs eight rows (<paramref name="rowBytes"/> apart) of <paramref name="blocks"/> blocks into one tile, a tile
    /// block every <paramref name="blockStride"/> bytes.
    /// </summary>
    private delegate void TilePacker(byte* rows, nint rowBytes, int blocks, byte* dst, nint blockStride);

    private readonly int _tileBlockBytes;

    private PackedMatrix(GgmlType type, int rows, int cols, int tileBlockBytes, TilePacker pack, PackedTileKernel kernel, PackedPairKernel? pairKernel)
    {
        Type = type; Rows = rows; Cols = cols; Kernel = kernel; PairKernel = pairKernel; _pack = pack;
        Blocks = cols / TypeTraits.BlockSize(type);
        _tileBlockBytes = tileBlockBytes;
        TileBytes = (long)Blocks * tileBlockBytes;
        _buffer = new NativeBuffer(TileBytes * (rows / TileRows));
    }

    public GgmlType Type { get; }
    public int Rows { get; }
    public int Cols { get; }
    /// <summary>Quant blocks per row.</summary>
    public int Blocks { get; }
    /// <summary>Bytes of one tile of <see cref="TileRows"/> rows.</summary>
    public long TileBytes { get; }
    public PackedTileKernel Kernel { get; }
    /// <summary>
    /// Whether the kernels take activations in the <see cref="PackedActivations"/> format (Q4_0, Q8_0) rather than
    /// the weight type's own <see cref="Quants.VecDotType"/> (K-quants take Q8_K, which already carries what they need).
    /// </summary>
    public bool UsesPackedActivations => Type is GgmlType.Q4_0 or GgmlType.Q8_0;

    /// <summary>The two-tile kernel, where the machine has one (AVX-512 with VNNI).</summary>
    public PackedPairKernel? PairKernel { get; }

    /// <summary>
    /// Start of tile <paramref name="tile"/> (rows 8·tile .. 8·tile+7) for <see cref="Kernel"/>, or for an even tile
    /// with a partner and a <see cref="PairKernel"/>, the start of the interleaved pair.
    /// </summary>
    public byte* Tile(int tile) => (byte*)_buffer.Pointer + tile * TileBytes;

    /// <summary>Whether <paramref name="w"/> has a packed layout on this machine.</summary>
    public static bool CanPack(WeightTensor w) =>
        w.Shape.Length == 2 && w.Rows % TileRows == 0 && w.Type switch
        {
            GgmlType.Q4_0 => Q4_0Packed.IsSupported,
            GgmlType.Q8_0 => Q8_0Packed.IsSupported,
            GgmlType.Q4_K => Q4_KPacked.IsSupported,
            GgmlType.Q6_K => Q6_KPacked.IsSupported,
            _ => false,
        };

    /// <summary>Repacks <paramref name="w"/> (see <see cref="CanPack"/>), tiles spread over the compute pool.</summary>
    public static PackedMatrix Pack(WeightTensor w)
    {
        if (!CanPack(w)) throw new NotSupportedException($"{w} has no packed layout here");
        bool pairs = Avx512F.IsSupported && AvxVnni.IsSupported;
        var m = w.Type switch
        {
            GgmlType.Q4_0 => new PackedMatrix(w.Type, w.Rows, w.Cols, Q4_0Packed.TileBlockBytes, Q4_0Packed.Pack, Q4_0Packed.Mul,
                pairs ? Q4_0Packed.MulPair : null),
            GgmlType.Q8_0 => new PackedMatrix(w.Type, w.Rows, w.Cols, Q8_0Packed.TileBlockBytes, Q8_0Packed.Pack, Q8_0Packed.Mul,
                pairs ? Q8_0Packed.MulPair : null),
            GgmlType.Q4_K => new PackedMatrix(w.Type, w.Rows, w.Cols, Q4_KPacked.TileBlockBytes, static (r, rb, b, d, _) => Q4_KPacked.Pack(r, rb, b, d), Q4_KPacked.Mul, null),
            GgmlType.Q6_K => new PackedMatrix(w.Type, w.Rows, w.Cols, Q6_KPacked.TileBlockBytes, static (r, rb, b, d, _) => Q6_KPacked.Pack(r, rb, b, d), Q6_KPacked.Mul, null),
            _ => throw new NotSupportedException(w.Type.ToString()),
        };
        Threading.ComputePool.Shared.For(w.Rows / TileRows, w.RowBytes * TileRows, (m, w), static (s, start, end) =>
        {
            var (m, w) = s;
            int paired = m.PairKernel is null ? 0 : w.Rows / TileRows & ~1;
            for (int tile = start; tile < end; tile++)
            {
                byte* src = (byte*)w.Data + (long)tile * TileRows * w.RowBytes;
                if (tile < paired) m._pack(src, (nint)w.RowBytes, m.Blocks, m.Tile(tile & ~1) + (tile & 1) * m._tileBlockBytes, 2 * m._tileBlockBytes);
                else m._pack(src, (nint)w.RowBytes, m.Blocks, m.Tile(tile), m._tileBlockBytes);
            }
        });
        return m;
    }

    public void Dispose() => _buffer.Dispose();
}
