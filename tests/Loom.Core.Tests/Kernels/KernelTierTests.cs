using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Loom.Core.Kernels;
using Loom.Core.Kernels.Quantized;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Core.Tests.Kernels;

/// <summary>
/// Which kernels each instruction-set tier runs, and the edge of the AVX2 integer path: vpmaddubsw sums pairs of
/// products into saturating i16, so the largest weights against the largest activations must still come out exact.
/// CI runs this suite once per tier (the runtime's DOTNET_Enable… switches), so each assertion is checked on each.
/// </summary>
public unsafe class KernelTierTests
{
    [Fact]
    public void TierNameMatchesTheInstructionSets()
    {
        bool avx2 = Avx2.IsSupported && Fma.IsSupported, arm = AdvSimd.Arm64.IsSupported;
        Assert.Equal(avx2 || arm, KernelTier.QuantizedSimd);
        if (avx2)
        {
            string expected = (Avx512F.IsSupported && Avx512BW.IsSupported ? "avx512" : "avx2") + (AvxVnni.IsSupported ? "-vnni" : "");
            Assert.Equal(expected == "avx2" ? "avx2-fma" : expected, KernelTier.Name);
        }
        else if (arm) Assert.Equal(Dp.IsSupported ? "arm64-dotprod" : "arm64-neon", KernelTier.Name);
        else Assert.Contains(KernelTier.Name, new[] { "portable", "scalar" });
    }

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    public void EverySimdTierPacksTheHotFormats(GgmlType type)
    {
        var probe = new WeightTensor("probe", type, [TypeTraits.BlockSize(type), 8], 0, 0);
        Assert.Equal(KernelTier.QuantizedSimd, PackedMatrix.CanPack(probe));
        // The row-layout kernels (matrices whose rows are not a multiple of 8) run wherever the packed kernels do.
        bool hasTile = TileKernels.For(type).Target is null;
        Assert.Equal(KernelTier.QuantizedSimd, hasTile);
    }

    /// <summary>
    /// Quants at the ends of their range (Q8_0: −128 and 127; Q4_0: 0 and 15) against activations of ±127: the
    /// packed and row-layout kernels equal their exact integer references on every tier.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q8_0, 1)]
    [InlineData(GgmlType.Q8_0, 5)]
    [InlineData(GgmlType.Q4_0, 1)]
    [InlineData(GgmlType.Q4_0, 5)]
    public void ExtremeQuantsDoNotSaturate(GgmlType type, int tokens)
    {
        const int cols = 256, rows = 16;
        long rowBytes = TypeTraits.RowSize(type, cols);
        int blockBytes = (int)TypeTraits.RowSize(type, 32);
        using var buffer = new NativeBuffer(rows * rowBytes);
        var bytes = new Span<byte>((byte*)buffer.Pointer, (int)(rows * rowBytes));
        var rng = new Random(tokens);
        for (int b = 0; b < bytes.Length / blockBytes; b++)
        {
            var block = bytes.Slice(b * blockBytes, blockBytes);
            BitConverter.TryWriteBytes(block, (Half)0.5f);
            for (int j = 2; j < blockBytes; j++)
                block[j] = type == GgmlType.Q8_0
                    ? (byte)(rng.Next(3) switch { 0 => 0x80, 1 => 0x7F, _ => rng.Next(256) }) // −128, 127 or anything
                    : (byte)(rng.Next(3) switch { 0 => 0xFF, 1 => 0x0F, _ => 0xF0 });
        }
        var w = new WeightTensor("w", type, [cols, rows], buffer.Pointer, rows * rowBytes);
        var x = new float[tokens * cols];
        for (int i = 0; i < x.Length; i++) x[i] = rng.Next(2) == 0 ? 1f : -1f; // quantize to ±127

        var xq = new byte[TypeTraits.RowSize(GgmlType.Q8_0, cols)];
        var rowLayout = new float[tokens * rows];
        MatMul.Compute(w, x, tokens, rowLayout, new byte[MatMul.ScratchBytes(w, tokens)]);
        for (int t = 0; t < tokens; t++)
        {
            Quants.Quantize(GgmlType.Q8_0, x.AsSpan(t * cols, cols), xq);
            for (int r = 0; r < rows; r++)
            {
                // The row-layout kernels sum blocks in llama.cpp's 8-lane order, the plain dot block by block: equal up to rounding.
                float expected = Quants.VecDot(type, w.Row(r), xq, cols);
                Assert.True(Math.Abs(expected - rowLayout[t * rows + r]) <= 1e-5f * Math.Max(1f, Math.Abs(expected)), $"row {r} token {t}: {rowLayout[t * rows + r]} vs {expected}");
            }
        }

        if (!PackedMatrix.CanPack(w)) return;
        using var packed = PackedMatrix.Pack(w);
        w.Packed = packed;
        var y = new float[tokens * rows];
        MatMul.Compute(w, x, tokens, y, new byte[MatMul.ScratchBytes(w, tokens)]);
        for (int t = 0; t < tokens; t++)
        {
            Quants.Quantize(GgmlType.Q8_0, x.AsSpan(t * cols, cols), xq);
            for (int r = 0; r < rows; r++)
            {
                float expected = type == GgmlType.Q4_0 ? Q4_0Packed.ReferenceDot(w.Row(r), xq, cols) : Q8_0Packed.ReferenceDot(w.Row(r), xq, cols);
                Assert.Equal(expected, y[t * rows + r]);
            }
        }
    }
}
