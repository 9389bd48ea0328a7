namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// What one 32-element block format tells the shared <see cref="BlockTile{TFormat}"/> driver: how to unpack its
/// quants to unsigned bytes, its scale, and how the offset comes off (a min times the activations' stored sum, or an
/// exact integer subtraction). The JIT specializes the driver per format and folds these members away.
/// </summary>
internal unsafe interface IBlockTileFormat
{
    /// <summary>Bytes of one weight block.</summary>
    static abstract int BlockBytes { get; }
    /// <summary>Bytes of one activation block (Q8_0: 34, Q8_1: 36) and where its quants start.</summary>
    static abstract int XBlockBytes { get; }
    static abstract int XQuants { get; }
    /// <summary>
    /// The block's 32 quants: unsigned bytes (each ≤ 31, so vpmaddubsw cannot saturate), or with <see cref="Signed"/>
    /// signed bytes (Q8_0), which meet the activations through <see cref="TileMath.DotSigned"/>.
    /// </summary>
    static abstract Vector256<byte> Quants(byte* block);
    static abstract bool Signed { get; }
    /// <summary>Subtracted exactly from every quant (Q5_0's 16), or 0.</summary>
    static abstract byte IntOffset { get; }
    /// <summary>Whether the block carries a min m (Q4_1, Q5_1): the result gains m·s, s being the activations' stored sum.</summary>
    static abstract bool HasMin { get; }
}

/// <summary>
/// The row-layout tile kernel for 32-element block formats: Q4_1, Q5_0 and Q5_1, and Q4_0 and Q8_0 matrices whose
/// rows do not fill the packed layout's 8-row tiles. Each block is unpacked once per tile and meets every token with
/// one integer dot (<see cref="TileMath.Dot4(Vector256{int}, Vector256{byte}, Vector256{sbyte})"/>: vpdpbusd, vpmaddubsw + vpmaddwd, or sdot), lane i
/// summing elements 4i..4i+3, then d_w·d_x is fused-multiply-added into eight float lanes and the lanes are summed as
/// hsum_float_8 does: the order of llama.cpp's x86 kernels (Q4_0.DotX86 and Q8_0.DotX86 are its scalar form).
/// </summary>
internal static unsafe class BlockTile<TFormat> where TFormat : IBlockTileFormat
{
    public static bool IsSupported => TileMath.IsSupported;

    /// <inheritdoc cref="TileKernel"/>
    public static void Mul(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride)
    {
        const int Tiles = TileKernels.MaxRows * TileKernels.MaxTokens;
        int nb = n / 32;
        var acc = stackalloc Vector256<float>[Tiles];
        var offsets = stackalloc float[Tiles];
        for (int k = 0; k < Tiles; k++) { acc[k] = Vector256<float>.Zero; offsets[k] = 0; }
        var offset = Vector256.Create(TFormat.IntOffset);

        for (int i = 0; i < nb; i++)
        {
            byte* xb0 = x + (nint)i * TFormat.XBlockBytes;
            for (int r = 0; r < rows; r++)
            {
                byte* b = w + r * wRowBytes + (nint)i * TFormat.BlockBytes;
                TileMath.Prefetch(b, rows * wRowBytes, TFormat.BlockBytes);
                float d = TileMath.Half(b);
                var q = TFormat.Quants(b);
                int k = r * TileKernels.MaxTokens;
                byte* xb = xb0;
                for (int t = 0; t < tokens; t++, xb += xRowBytes)
                {
                    var xs = Vector256.Load((sbyte*)(xb + TFormat.XQuants));
                    var sum = TFormat.Signed ? TileMath.DotSigned(Vector256<int>.Zero, q.AsSByte(), xs) : TileMath.Dot4(Vector256<int>.Zero, q, xs);
                    if (TFormat.IntOffset != 0) sum -= TileMath.Dot4(Vector256<int>.Zero, offset, xs);
                    acc[k + t] = TileMath.MulAdd(TileMath.ToFloat(sum), Vector256.Create(d * TileMath.Half(xb)), acc[k + t]);
                    if (TFormat.HasMin) offsets[k + t] += TileMath.Half(b + 2) * TileMath.Half(xb + 2);
                }
            }
        }
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
            {
                float sum = TileMath.Sum(acc[r * TileKernels.MaxTokens + t]);
                y[t * yStride + r] = TFormat.HasMin ? sum + offsets[r * TileKernels.MaxTokens + t] : sum;
            }
    }
}
