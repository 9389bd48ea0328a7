using System.Buffers.Binary;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Core.Tests;

/// <summary>Blocks assembled byte by byte, with the values they must decode to worked out by hand.</summary>
public class QuantHandBuiltBlockTests
{
    private static void PutHalf(byte[] b, int at, float v) => BinaryPrimitives.WriteHalfLittleEndian(b.AsSpan(at), (Half)v);

    private static float[] Decode(GgmlType t, byte[] block)
    {
        var y = new float[TypeTraits.BlockSize(t)];
        Quants.Dequantize(t, block, y);
        return y;
    }

    [Fact]
    public void Q4_0_block()
    {
        var b = new byte[18];
        PutHalf(b, 0, 0.5f);
        for (int j = 0; j < 16; j++) b[2 + j] = (byte)(j | ((15 - j) << 4));
        var y = Decode(GgmlType.Q4_0, b);
        Assert.Equal(-4f, y[0]);      // (0 - 8) * 0.5
        Assert.Equal(3.5f, y[15]);    // (15 - 8) * 0.5
        Assert.Equal(3.5f, y[16]);    // high nibble of qs[0] = 15
        Assert.Equal(-4f, y[31]);     // high nibble of qs[15] = 0
        Assert.Equal(-1.5f, y[5]);    // (5 - 8) * 0.5
    }

    [Fact]
    public void Q4_1_block()
    {
        var b = new byte[20];
        PutHalf(b, 0, 0.25f);
        PutHalf(b, 2, -1f);
        for (int j = 0; j < 16; j++) b[4 + j] = (byte)(j | (3 << 4));
        var y = Decode(GgmlType.Q4_1, b);
        Assert.Equal(-1f, y[0]);       // 0 * 0.25 - 1
        Assert.Equal(2.75f, y[15]);    // 15 * 0.25 - 1
        Assert.Equal(-0.25f, y[20]);   // 3 * 0.25 - 1
    }

    [Fact]
    public void Q5_0_block()
    {
        var b = new byte[22];
        PutHalf(b, 0, 2f);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(2), 0x8000_0001u); // 5th bit of elements 0 and 31
        for (int j = 0; j < 16; j++) b[6 + j] = (byte)(j | (j << 4));
        var y = Decode(GgmlType.Q5_0, b);
        Assert.Equal(0f, y[0]);        // (0 | 16) - 16
        Assert.Equal(-30f, y[1]);      // (1 - 16) * 2
        Assert.Equal(-32f, y[16]);     // high nibble 0, no 5th bit
        Assert.Equal(30f, y[31]);      // (15 | 16) - 16 = 15, * 2
    }

    [Fact]
    public void Q5_1_block()
    {
        var b = new byte[24];
        PutHalf(b, 0, 0.5f);
        PutHalf(b, 2, 1f);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 1u << 17);
        for (int j = 0; j < 16; j++) b[8 + j] = (byte)(2 | (15 << 4));
        var y = Decode(GgmlType.Q5_1, b);
        Assert.Equal(2f, y[0]);        // 2 * 0.5 + 1
        Assert.Equal(8.5f, y[16]);     // 15 * 0.5 + 1
        Assert.Equal(16.5f, y[17]);    // 31 * 0.5 + 1
    }

    [Fact]
    public void Q8_0_and_Q8_1_blocks()
    {
        var a = new byte[34];
        PutHalf(a, 0, 0.125f);
        for (int j = 0; j < 32; j++) a[2 + j] = (byte)(sbyte)(j - 16);
        var y = Decode(GgmlType.Q8_0, a);
        Assert.Equal(-2f, y[0]);
        Assert.Equal(1.875f, y[31]);

        var b = new byte[36];
        PutHalf(b, 0, 1f);
        PutHalf(b, 2, 12345f); // s is only a cached sum; decoding must ignore it
        for (int j = 0; j < 32; j++) b[4 + j] = (byte)(sbyte)(-j);
        y = Decode(GgmlType.Q8_1, b);
        Assert.Equal(0f, y[0]);
        Assert.Equal(-31f, y[31]);
    }

    [Fact]
    public void Q8_K_block_has_fp32_scale_and_bsums()
    {
        var b = new byte[292];
        BinaryPrimitives.WriteSingleLittleEndian(b, 0.5f);
        for (int j = 0; j < 256; j++) b[4 + j] = (byte)(sbyte)(j - 128);
        var y = Decode(GgmlType.Q8_K, b);
        Assert.Equal(-64f, y[0]);
        Assert.Equal(63.5f, y[255]);

        var x = new float[256];
        for (int j = 0; j < 256; j++) x[j] = j % 16 == 0 ? -127f : 1f;
        var q = new byte[292];
        Quants.Quantize(GgmlType.Q8_K, x, q);
        Assert.Equal(1f, BinaryPrimitives.ReadSingleLittleEndian(q)); // max = -127 -> iscale = 1 -> d = 1
        Assert.Equal(-127 + 15, BinaryPrimitives.ReadInt16LittleEndian(q.AsSpan(260)));
        Assert.Equal(-127 + 15, BinaryPrimitives.ReadInt16LittleEndian(q.AsSpan(290)));
    }

    [Fact]
    public void Q2_K_block()
    {
        var b = new byte[84];
        for (int g = 0; g < 16; g++) b[g] = (byte)(g | ((15 - g) << 4));   // scale g, min 15 - g
        for (int j = 0; j < 64; j++) b[16 + j] = 0b11_10_01_00;              // quant = (e % 128) / 32
        PutHalf(b, 80, 1f);
        PutHalf(b, 82, 0.5f);
        var y = Decode(GgmlType.Q2_K, b);
        Assert.Equal(-7.5f, y[0]);      // g0: 0*0 - 0.5*15
        Assert.Equal(-4.5f, y[40]);     // g2, quant 1: 2*1 - 0.5*13
        Assert.Equal(13.5f, y[100]);    // g6, quant 3: 6*3 - 0.5*9
        Assert.Equal(45f, y[255]);      // g15, quant 3: 15*3 - 0
        Assert.Equal(8 * 0 - 0.5f * 7, y[128]); // g8, quant 0
    }

    [Fact]
    public void Q3_K_block_with_packed_6bit_scales()
    {
        var b = new byte[110];
        for (int j = 0; j < 64; j++) b[32 + j] = 0b11_10_01_00; // low bits = (e % 128) / 32; hmask 0 -> minus 4
        b[3] = 0x01;                     // hmask: element 3 keeps its low bits (quant 0 instead of -4)
        b[96 + 0] = 0x21;                // group 0 low nibble 1, group 8 low nibble 2
        b[96 + 8] = 0b11_10_01_00;       // high bits: group 0 -> 0, group 4 -> 1, group 8 -> 2, group 12 -> 3
        PutHalf(b, 108, 0.5f);
        var y = Decode(GgmlType.Q3_K, b);
        Assert.Equal(62f, y[0]);         // g0: s = 1 -> -31; quant -4 -> 0.5 * -31 * -4
        Assert.Equal(0f, y[3]);          // high bit set -> quant 0
        Assert.Equal(64f, y[20]);        // g1: s = 0 -> -32; quant -4
        Assert.Equal(16f, y[64]);        // g4: s = 16 -> -16; quant 2 - 4 = -2
        Assert.Equal(-4f, y[128]);       // g8: s = 2 | 32 = 34 -> 2; quant -4
        Assert.Equal(-16f, y[200]);      // g12: s = 48 -> 16; r = 72 -> quant 2 - 4
    }

    private static void PutK4Scales(byte[] b, int at)
    {
        b[at + 0] = 0x40 | 5;  // scale0 = 5; top bits 01 -> high part of scale4
        b[at + 4] = 0x80 | 7;  // min0 = 7; top bits 10 -> high part of min4
        b[at + 8] = 0x39;      // scale4 low = 9, min4 low = 3 -> scale4 = 25, min4 = 35
    }

    [Fact]
    public void Q4_K_block_with_packed_scales_and_mins()
    {
        var b = new byte[144];
        PutHalf(b, 0, 0.5f);
        PutHalf(b, 2, 0.25f);
        PutK4Scales(b, 4);
        for (int j = 0; j < 128; j++) b[16 + j] = 0xA3;
        var y = Decode(GgmlType.Q4_K, b);
        Assert.Equal(5.75f, y[0]);       // 0.5*5*3 - 0.25*7
        Assert.Equal(0f, y[40]);         // group 1: scale 0, min 0
        Assert.Equal(28.75f, y[130]);    // group 4: 0.5*25*3 - 0.25*35
        Assert.Equal(0f, y[170]);        // group 5
    }

    [Fact]
    public void Q5_K_block_with_high_bits()
    {
        var b = new byte[176];
        PutHalf(b, 0, 0.5f);
        PutHalf(b, 2, 0.25f);
        PutK4Scales(b, 4);
        for (int j = 0; j < 32; j++) b[16 + j] = 0x01;   // 5th bit for group 0 only
        for (int j = 0; j < 128; j++) b[48 + j] = 0xA3;
        var y = Decode(GgmlType.Q5_K, b);
        Assert.Equal(45.75f, y[0]);      // 0.5*5*(3+16) - 0.25*7
        Assert.Equal(28.75f, y[130]);    // 0.5*25*3 - 0.25*35
    }

    [Fact]
    public void Q6_K_block()
    {
        var b = new byte[210];
        for (int j = 0; j < 128; j++) b[j] = 0x21;                // low nibble 1, high nibble 2
        for (int j = 0; j < 64; j++) b[128 + j] = 0b11_10_01_00;  // 2-bit highs 0,1,2,3 for the four 32-runs
        for (int g = 0; g < 16; g++) b[192 + g] = (byte)(sbyte)(g - 8);
        PutHalf(b, 208, 0.25f);
        var y = Decode(GgmlType.Q6_K, b);
        Assert.Equal(62f, y[0]);         // g0 scale -8, quant 1 - 32
        Assert.Equal(22.5f, y[40]);      // g2 scale -6, quant (1 | 16) - 32 = -15
        Assert.Equal(-9f, y[100]);       // g6 scale -2, quant (2 | 48) - 32 = 18
        Assert.Equal(2f, y[200]);        // g12 scale 4, r = 72: quant (2 | 32) - 32 = 2
    }

    [Theory]
    [InlineData(GgmlType.Q2_K)]
    [InlineData(GgmlType.Q3_K)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void K_quant_dot_with_all_ones_activations_is_the_sum_of_the_weights(GgmlType t)
    {
        // Q8_K with d = 1 and every quant 1: the dot must equal the plain sum of the dequantized weights, which
        // exercises the bsums path that applies the mins.
        var rnd = new Random(7);
        var w = new byte[TypeTraits.TypeSize(t)];
        rnd.NextBytes(w);
        BinaryPrimitives.WriteHalfLittleEndian(w.AsSpan(t is GgmlType.Q4_K or GgmlType.Q5_K ? 0 : w.Length - (t == GgmlType.Q2_K ? 4 : 2)), (Half)0.125f);
        if (t == GgmlType.Q2_K || t == GgmlType.Q4_K || t == GgmlType.Q5_K)
            BinaryPrimitives.WriteHalfLittleEndian(w.AsSpan(t == GgmlType.Q2_K ? w.Length - 2 : 2), (Half)0.0625f);
        var x = new byte[292];
        BinaryPrimitives.WriteSingleLittleEndian(x, 1f);
        for (int j = 0; j < 256; j++) x[4 + j] = 1;
        for (int g = 0; g < 16; g++) BinaryPrimitives.WriteInt16LittleEndian(x.AsSpan(260 + 2 * g), 16);

        var y = new float[256];
        Quants.Dequantize(t, w, y);
        double sum = 0;
        foreach (var v in y) sum += v;
        Assert.Equal(sum, Quants.VecDot(t, w, x, 256), 3);
    }
}
