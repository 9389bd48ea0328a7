namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q5_0 × Q8_0 on the shared <see cref="BlockTile{TFormat}"/> driver: d, the fifth bits, then the nibbles. Quants
/// stay unsigned (0..31, value q − 16) for the unsigned-by-signed dot; the −16 comes off exactly as a second dot of
/// 16s against the same activations.
/// </summary>
public unsafe struct Q5_0Tile : IBlockTileFormat
{
    public static bool IsSupported => BlockTile<Q5_0Tile>.IsSupported;

    /// <inheritdoc cref="TileKernel"/>
    public static void Mul(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride) =>
        BlockTile<Q5_0Tile>.Mul(w, wRowBytes, rows, x, xRowBytes, tokens, n, y, yStride);

    static int IBlockTileFormat.BlockBytes => Q5_0.BlockBytes;
    static int IBlockTileFormat.XBlockBytes => Q8_0.BlockBytes;
    static int IBlockTileFormat.XQuants => 2;
    static Vector256<byte> IBlockTileFormat.Quants(byte* block) => TileMath.Nibbles(block + 6) | TileMath.FifthBits(*(uint*)(block + 2));
    static byte IBlockTileFormat.IntOffset => 16;
    static bool IBlockTileFormat.Signed => false;
    static bool IBlockTileFormat.HasMin => false;
}
