namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q4_0 × Q8_0 on the shared <see cref="BlockTile{TFormat}"/> driver, for matrices that do not pack (rows not a
/// multiple of 8): d, then 16 bytes of nibbles, kept unsigned (0..15); the −8 comes off exactly as a second dot of
/// 8s against the same activations. Equals <see cref="Q4_0.DotX86"/> bit for bit.
/// </summary>
public unsafe struct Q4_0Tile : IBlockTileFormat
{
    public static bool IsSupported => BlockTile<Q4_0Tile>.IsSupported;

    /// <inheritdoc cref="TileKernel"/>
    public static void Mul(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride) =>
        BlockTile<Q4_0Tile>.Mul(w, wRowBytes, rows, x, xRowBytes, tokens, n, y, yStride);

    static int IBlockTileFormat.BlockBytes => Q4_0.BlockBytes;
    static int IBlockTileFormat.XBlockBytes => Q8_0.BlockBytes;
    static int IBlockTileFormat.XQuants => 2;
    static Vector256<byte> IBlockTileFormat.Quants(byte* block) => TileMath.Nibbles(block + 2);
    static bool IBlockTileFormat.Signed => false;
    static byte IBlockTileFormat.IntOffset => 8;
    static bool IBlockTileFormat.HasMin => false;
}
