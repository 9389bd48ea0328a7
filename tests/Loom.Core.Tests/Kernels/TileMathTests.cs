using System.Runtime.Intrinsics;
using Loom.Core.Kernels.Quantized;

namespace Loom.Core.Tests.Kernels;

/// <summary>The helpers the tile kernels build on.</summary>
public unsafe class TileMathTests
{
    [Fact]
    public void Half_widening_matches_System_Half_for_all_65536_values()
    {
        for (int i = 0; i < 65536; i++)
        {
            ushort h = (ushort)i;
            float want = (float)BitConverter.UInt16BitsToHalf(h);
            float got = TileMath.Half((byte*)&h);
            if (float.IsNaN(want)) Assert.True(float.IsNaN(got), $"0x{h:X4}: want NaN, got {got}");
            else Assert.True(BitConverter.SingleToUInt32Bits(want) == BitConverter.SingleToUInt32Bits(got), $"0x{h:X4}: want {want}, got {got}");
        }
    }

    [Fact]
    public void Halves8_matches_System_Half_for_every_finite_value()
    {
        var h = stackalloc ushort[8];
        for (int i = 0; i < 65536; i += 8)
        {
            for (int j = 0; j < 8; j++) h[j] = (ushort)(i + j);
            var got = TileMath.Halves8((byte*)h);
            for (int j = 0; j < 8; j++)
            {
                float want = (float)BitConverter.UInt16BitsToHalf(h[j]);
                if (!float.IsFinite(want)) continue; // row scales are finite; Inf/NaN are not handled here
                Assert.True(BitConverter.SingleToUInt32Bits(want) == BitConverter.SingleToUInt32Bits(got.GetElement(j)), $"0x{h[j]:X4}: want {want}, got {got.GetElement(j)}");
            }
        }
    }

    [Fact]
    public void Fifth_bits_spread_bit_j_to_byte_j()
    {
        // An AVX2 helper: only the AVX2 kernels call it.
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) return;
        var r = new Random(3);
        for (int rep = 0; rep < 100; rep++)
        {
            uint bits = (uint)r.NextInt64(0, 1L << 32);
            var v = TileMath.FifthBits(bits);
            for (int j = 0; j < 32; j++) Assert.Equal(((bits >> j) & 1) != 0 ? 16 : 0, v.GetElement(j));
        }
    }
}
