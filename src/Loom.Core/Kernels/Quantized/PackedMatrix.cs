using Loom.Core.Tensors;

namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Multiplies one tile of <see cref="PackedMatrix.TileRows"/> packed weight rows with up to
/// <see cref="TileKernels.MaxTokens"/> activation rows: y[t·yStride + r] = dot(row r, x row t).
/// </summary>
public unsafe delegate void PackedTileKernel(byte* tile, int blocks, byte* x, nint xRowBytes, int tokens, float* y, nint yStride);

/// <summary>
/// A weight matrix repacked into tiles of <see cref="TileRows"/> rows whose blocks are interleaved, so a kernel
/// reads one contiguous stream, converts the tile's four block scales in one vector operation and unpacks several
/// rows' quants with a few wide instructions. Same size as the original; the file mapping is left untouched.
/// </summary>
public sealed unsafe class PackedMatrix : IDisposable
{
    /// <summary>Rows per tile.</summary>
    public const int TileRows = 4;

    private readonly NativeBuffer _buffer;

    private PackedMatrix(GgmlType type, int rows, int cols, int tileBlockBytes, PackedTileKernel kernel)
    {
        Type = type; Rows = rows; Cols = cols; Kernel = kernel;
        Blocks = cols / TypeTraits.BlockSize(type);
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

    /// <summary>Start of tile <paramref name="tile"/> (rows 4·tile .. 4·tile+3).</summary>
    public byte* Tile(int tile) => (byte*)_buffer.Pointer + tile * TileBytes;

    /// <summary>Whether <paramref name="w"/> has a packed layout on this machine.</summary>
    public static bool CanPack(WeightTensor w) =>
        w.Shape.Length == 2 && w.Rows % TileRows == 0 && w.Type switch
        {
            GgmlType.Q4_0 => Q4_0Packed.IsSupported,
            GgmlType.Q8_0 => Q8_0Packed.IsSupported,
            _ => false,
        };

    /// <summary>Repacks <paramref name="w"/> (see <see cref="CanPack"/>), tiles spread over the compute pool.</summary>
    public static PackedMatrix Pack(WeightTensor w)
    {
        if (!CanPack(w)) throw new NotSupportedException($"{w} has no packed layout here");
        var m = w.Type switch
        {
            GgmlType.Q4_0 => new PackedMatrix(w.Type, w.Rows, w.Cols, Q4_0Packed.TileBlockBytes, Q4_0Packed.Mul),
            _ => new PackedMatrix(w.Type, w.Rows, w.Cols, Q8_0Packed.TileBlockBytes, Q8_0Packed.Mul),
        };
        Threading.RowParallel.For(w.Rows / TileRows, w.RowBytes * TileRows, (m, w), static (s, start, end) =>
        {
            var (m, w) = s;
            for (int tile = start; tile < end; tile++)
            {
                byte* src = (byte*)w.Data + (long)tile * TileRows * w.RowBytes;
                if (m.Type == GgmlType.Q4_0) Q4_0Packed.Pack(src, (nint)w.RowBytes, m.Blocks, m.Tile(tile));
                else Q8_0Packed.Pack(src, (nint)w.RowBytes, m.Blocks, m.Tile(tile));
            }
        });
        return m;
    }

    public void Dispose() => _buffer.Dispose();
}
