namespace Loom.Core.Kernels.Quantized;

/// <summary>Q4_1 × Q8_1 on the shared <see cref="BlockTile{TFormat}"/> driver: d, m, then 16 bytes of nibbles.</summary>
public unsafe struct Q4_1Tile : IBlockTileFormat
{
    public static bool IsSupported => BlockTile<Q4_1Tile>.IsSupported;

    /// <inheritdoc cref="TileKernel"/>
    public static void Mul(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride) =>
        BlockTile<Q4_1Tile>.Mul(w, wRowBytes, rows, x, xRowBytes, tokens, n, y, yStride);

    static int IBlockTileFormat.BlockBytes => Q4_1.BlockBytes;
    static int IBlockTileFormat.XBlockBytes => Q8_1.BlockBytes;
    static int IBlockTileFormat.XQuants => 4;
    static Vector256<byte> IBlockTileFormat.Quants(byte* block) => TileMath.Nibbles(block + 4);
    static byte IBlockTileFormat.IntOffset => 0;
    static bool IBlockTileFormat.Signed => false;
    static bool IBlockTileFormat.HasMin => true;
}
