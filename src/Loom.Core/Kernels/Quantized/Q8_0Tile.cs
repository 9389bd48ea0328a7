namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Q8_0 × Q8_0 on the shared <see cref="BlockTile{TFormat}"/> driver, for matrices that do not pack: d, then 32
/// signed quants, meeting the activations through <see cref="TileMath.DotSigned"/> (|w| against x carrying w's sign
/// on x86, sdot on ARM64). Equals <see cref="Q8_0.DotX86"/> bit for bit.
/// </summary>
public unsafe struct Q8_0Tile : IBlockTileFormat
{
    public static bool IsSupported => BlockTile<Q8_0Tile>.IsSupported;

    /// <inheritdoc cref="TileKernel"/>
    public static void Mul(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride) =>
        BlockTile<Q8_0Tile>.Mul(w, wRowBytes, rows, x, xRowBytes, tokens, n, y, yStride);

    static int IBlockTileFormat.BlockBytes => Q8_0.BlockBytes;
    static int IBlockTileFormat.XBlockBytes => Q8_0.BlockBytes;
    static int IBlockTileFormat.XQuants => 2;
    static Vector256<byte> IBlockTileFormat.Quants(byte* block) => Vector256.Load(block + 2);
    static bool IBlockTileFormat.Signed => true;
    static byte IBlockTileFormat.IntOffset => 0;
    static bool IBlockTileFormat.HasMin => false;
}
