using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Loom.Core.Kernels.Quantized;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Core.Tests.Kernels;

/// <summary>
/// The SIMD tile kernels against <see cref="TileKernels.Reference"/>: integer sums are exact in both, so they may differ
/// only by float summation order, i.e. by a few ulps of the magnitude of the summed terms.
/// </summary>
public unsafe class TileKernelTests
{
    private static readonly GgmlType[] Types = [GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q5_K, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1];

    public static TheoryData<GgmlType, int, bool> Cases()
    {
        var data = new TheoryData<GgmlType, int, bool>();
        foreach (var t in Types)
        {
            int[] lengths = TypeTraits.BlockSize(t) == 32 ? [32, 96, 256, 512, 4096, 11008] : [256, 512, 4096, 11008];
            foreach (int n in lengths)
            {
                data.Add(t, n, false);
                data.Add(t, n, true);
            }
        }
        return data;
    }

    public static TheoryData<GgmlType> AllTypes()
    {
        var data = new TheoryData<GgmlType>();
        foreach (var t in Types) data.Add(t);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Dispatch_picks_the_simd_kernel_on_avx2(GgmlType t)
    {
        var fast = TileKernels.For(t);
        // Every row-layout kernel is written on TileMath's helpers, so it runs wherever they do (AVX2, ARM64).
        bool simd = Loom.Core.Kernels.KernelTier.QuantizedSimd;
        Assert.Equal(simd, fast.Method.DeclaringType != typeof(TileKernels) && fast.Target is null);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_reference_for_every_tile_shape(GgmlType t, int n, bool randomBits)
    {
        var r = new Random(HashCode.Combine((int)t, n, randomBits));
        var w = Enumerable.Range(0, TileKernels.MaxRows).Select(_ => TileKernelData.WeightRow(r, t, n, randomBits)).ToArray();
        var x = Enumerable.Range(0, TileKernels.MaxTokens).Select(_ => TileKernelData.ActivationRow(r, t, n, randomBits)).ToArray();
        Check(t, n, w, x);
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Zero_weights_and_zero_activations_give_zero(GgmlType t)
    {
        const int n = 512;
        var r = new Random(7);
        var zeroW = new byte[TypeTraits.RowSize(t, n)];
        var zeroX = new byte[TypeTraits.RowSize(Quants.VecDotType(t), n)];
        var w = new[] { zeroW, TileKernelData.WeightRow(r, t, n, false), zeroW, TileKernelData.WeightRow(r, t, n, true) };
        var x = new[] { TileKernelData.ActivationRow(r, t, n, false), zeroX, TileKernelData.ActivationRow(r, t, n, true), zeroX };
        var y = Check(t, n, w, x);
        for (int tok = 0; tok < 4; tok++)
        {
            Assert.Equal(0f, y[tok, 0]);
            Assert.Equal(0f, y[tok, 2]);
        }
        Assert.Equal(0f, y[1, 1]);
        Assert.Equal(0f, y[3, 3]);
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Extreme_quants_and_scales_do_not_saturate(GgmlType t)
    {
        // All quant bits set (the largest unsigned weight) against -128 and 127 activations: the pairwise i16 sums
        // are as large as they get. fp16 scales at the top of their range.
        const int n = 1024;
        var xt = Quants.VecDotType(t);
        int bb = TypeTraits.TypeSize(t), xbs = TypeTraits.BlockSize(xt), xbb = TypeTraits.TypeSize(xt);
        var w = new byte[TileKernels.MaxRows][];
        for (int row = 0; row < w.Length; row++)
        {
            w[row] = new byte[TypeTraits.RowSize(t, n)];
            Array.Fill(w[row], (byte)0xFF);
            // Outside the quant bits, alternate 0xFF/0x7B: fp16 fields become 65504 (0x7BFF), the largest finite half.
            var zero = TileKernelData.ZeroQuants(t, w[row]);
            for (int b = 0; b < w[row].Length / bb; b++)
                for (int k = 0; k < bb; k++)
                    if (zero[b * bb + k] != 0) w[row][b * bb + k] = k % 2 == 0 ? (byte)0xFF : (byte)0x7B;
        }
        var x = new byte[TileKernels.MaxTokens][];
        for (int tok = 0; tok < x.Length; tok++)
        {
            x[tok] = new byte[TypeTraits.RowSize(xt, n)];
            for (int b = 0; b < n / xbs; b++)
            {
                var qs = new sbyte[xbs];
                for (int j = 0; j < xbs; j++) qs[j] = tok switch { 0 => -128, 1 => 127, 2 => (sbyte)(j % 2 == 0 ? -128 : 127), _ => (sbyte)(b % 2 == 0 ? -128 : 127) };
                TileKernelData.SetActivationBlock(xt, x[tok].AsSpan(b * xbb, xbb), tok == 3 ? 1e-3f : 1f, qs);
            }
        }
        Check(t, n, w, x);
    }

    /// <summary>
    /// Runs the dispatched kernel and the reference on every (rows, tokens) tile shape up to 4×4, with padded row
    /// strides and a y stride wider than the tile, and checks every output and that nothing else in y was written.
    /// Returns the full 4×4 result.
    /// </summary>
    private static float[,] Check(GgmlType t, int n, byte[][] wRows, byte[][] xRows)
    {
        var kernel = TileKernels.For(t);
        int wBytes = wRows[0].Length, xBytes = xRows[0].Length;
        nint wStride = wBytes + 64 + 3, xStride = xBytes + 32 + 1, yStride = 7;
        byte* w = (byte*)NativeMemory.AlignedAlloc((nuint)(wStride * TileKernels.MaxRows), 64);
        byte* x = (byte*)NativeMemory.AlignedAlloc((nuint)(xStride * TileKernels.MaxTokens), 64);
        float* y = (float*)NativeMemory.Alloc((nuint)(yStride * TileKernels.MaxTokens), sizeof(float));
        float* yr = (float*)NativeMemory.Alloc((nuint)(yStride * TileKernels.MaxTokens), sizeof(float));
        try
        {
            for (int r = 0; r < wRows.Length; r++) wRows[r].CopyTo(new Span<byte>(w + r * wStride, wBytes));
            for (int k = 0; k < xRows.Length; k++) xRows[k].CopyTo(new Span<byte>(x + k * xStride, xBytes));
            var mag = new double[TileKernels.MaxTokens, TileKernels.MaxRows];
            for (int k = 0; k < xRows.Length; k++)
                for (int r = 0; r < wRows.Length; r++)
                    mag[k, r] = TileKernelData.TermMagnitude(t, wRows[r], xRows[k], n);

            var full = new float[TileKernels.MaxTokens, TileKernels.MaxRows];
            for (int rows = 1; rows <= TileKernels.MaxRows; rows++)
            {
                for (int tokens = 1; tokens <= TileKernels.MaxTokens; tokens++)
                {
                    new Span<float>(y, (int)(yStride * TileKernels.MaxTokens)).Fill(float.NaN);
                    new Span<float>(yr, (int)(yStride * TileKernels.MaxTokens)).Fill(float.NaN);
                    kernel(w, wStride, rows, x, xStride, tokens, n, y, yStride);
                    TileKernels.Reference(t, w, wStride, rows, x, xStride, tokens, n, yr, yStride);
                    for (int k = 0; k < TileKernels.MaxTokens; k++)
                    {
                        for (int r = 0; r < (int)yStride; r++)
                        {
                            float got = y[k * yStride + r], want = yr[k * yStride + r];
                            if (k >= tokens || r >= rows)
                            {
                                Assert.True(float.IsNaN(got), $"{t} n={n} {rows}x{tokens}: wrote y[{k},{r}] outside the tile");
                                continue;
                            }
                            double tol = 1e-5 * mag[k, r];
                            Assert.True(Math.Abs((double)got - want) <= tol,
                                $"{t} n={n} tile {rows}x{tokens} y[{k},{r}]: got {got}, reference {want}, tolerance {tol}");
                            if (rows == TileKernels.MaxRows && tokens == TileKernels.MaxTokens) full[k, r] = got;
                        }
                    }
                }
            }
            return full;
        }
        finally
        {
            NativeMemory.AlignedFree(w);
            NativeMemory.AlignedFree(x);
            NativeMemory.Free(y);
            NativeMemory.Free(yr);
        }
    }
}
