namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q5_1 × Q8_1 on the shared <see cref="BlockTile{TFormat}"/> driver: d, m, the fifth bits (one uint), then the
/// nibbles; the fifth bits are spread into the nibbles' bit 4.
/// </summary>
public unsafe struct Q5_1Tile : IBlockTileFormat
{
    public static bool IsSupported => BlockTile<Q5_1Tile>.IsSupported;

    /// <inheritdoc cref="TileKernel"/>
    public static void Mul(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride) =>
        BlockTile<Q5_1Tile>.Mul(w, wRowBytes, rows, x, xRowBytes, tokens, n, y, yStride);

    static int IBlockTileFormat.BlockBytes => Q5_1.BlockBytes;
    static int IBlockTileFormat.XBlockBytes => Q8_1.BlockBytes;
    static int IBlockTileFormat.XQuants => 4;
    static Vector256<byte> IBlockTileFormat.Quants(byte* block) => TileMath.Nibbles(block + 8) | TileMath.FifthBits(*(uint*)(block + 4));
    static byte IBlockTileFormat.IntOffset => 0;
    static bool IBlockTileFormat.Signed => false;
    static bool IBlockTileFormat.HasMin => true;
}
