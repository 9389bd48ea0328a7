using Loom.Core.Tensors;

namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// A tile kernel computes the dot products of up to <see cref="MaxRows"/> weight rows with up to
/// <see cref="MaxTokens"/> activation rows in one pass, so each weight block is loaded (and unpacked) once
/// for several tokens: y[t·yStride + r] = dot(w row r, x row t) for r &lt; rows, t &lt; tokens.
/// Activation rows are in the weight type's <see cref="Quants.VecDotType"/>, as <see cref="Quants.Quantize"/> writes them.
/// </summary>
public unsafe delegate void TileKernel(byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride);

/// <summary>The fastest tile kernel for each weight type on this machine, with the scalar reference as fallback.</summary>
public static unsafe class TileKernels
{
    /// <summary>Weight rows per tile.</summary>
    public const int MaxRows = 4;

    /// <summary>Activation rows (tokens) per tile.</summary>
    public const int MaxTokens = 4;

    /// <summary>The tile kernel for weights of <paramref name="type"/>; <see cref="Reference"/> when there is no SIMD one.</summary>
    public static TileKernel For(GgmlType type) => type switch
    {
        GgmlType.Q4_0 when Q4_0Tile.IsSupported => Q4_0Tile.Mul,
        GgmlType.Q8_0 when Q8_0Tile.IsSupported => Q8_0Tile.Mul,
        GgmlType.Q4_K when Q4_KTile.IsSupported => Q4_KTile.Mul,
        GgmlType.Q6_K when Q6_KTile.IsSupported => Q6_KTile.Mul,
        GgmlType.Q5_K when Q5_KTile.IsSupported => Q5_KTile.Mul,
        GgmlType.Q4_1 when Q4_1Tile.IsSupported => Q4_1Tile.Mul,
        GgmlType.Q5_0 when Q5_0Tile.IsSupported => Q5_0Tile.Mul,
        GgmlType.Q5_1 when Q5_1Tile.IsSupported => Q5_1Tile.Mul,
        _ => ReferenceFor(type),
    };

    /// <summary>A tile kernel that runs <see cref="Quants.VecDot(GgmlType, ReadOnlySpan{byte}, ReadOnlySpan{byte}, int)"/> per pair.</summary>
    public static TileKernel ReferenceFor(GgmlType type) =>
        (w, wRowBytes, rows, x, xRowBytes, tokens, n, y, yStride) => Reference(type, w, wRowBytes, rows, x, xRowBytes, tokens, n, y, yStride);

    /// <summary>The scalar reference every tile kernel is tested against.</summary>
    public static void Reference(GgmlType type, byte* w, nint wRowBytes, int rows, byte* x, nint xRowBytes, int tokens, int n, float* y, nint yStride)
    {
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
                y[t * yStride + r] = Quants.VecDot(type, new ReadOnlySpan<byte>(w + r * wRowBytes, (int)wRowBytes), new ReadOnlySpan<byte>(x + t * xRowBytes, (int)xRowBytes), n);
    }
}
