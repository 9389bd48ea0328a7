using System.Runtime.InteropServices;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Core.Tests;

/// <summary>Bit-exact comparisons with ggml's own outputs (see <see cref="QuantFixtures"/>).</summary>
public class QuantGgmlFixtureTests
{
    public static TheoryData<string> WeightTypes => new() { "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K" };

    private static readonly float[] W = QuantFixtures.Floats("w.f32");
    private static readonly float[] X = QuantFixtures.Floats("x.f32");

    [Theory, MemberData(nameof(WeightTypes))]
    public void Quantize_matches_ggml_reference_quantizer(string type)
    {
        var t = QuantFixtures.Type(type);
        var expected = QuantFixtures.Bytes($"{type}.w");
        var actual = new byte[TypeTraits.RowSize(t, W.Length)];
        if (t == GgmlType.Q8_0) Q8_0.QuantizeReference(W, actual);
        else Quants.Quantize(t, W, actual);
        int at = QuantFixtures.FirstDifference(expected, actual);
        Assert.True(at < 0, $"{type}: first differing byte {at} (block {at / Math.Max(1, TypeTraits.TypeSize(t))})");
    }

    [Theory, MemberData(nameof(WeightTypes))]
    public void Dequantize_matches_ggml_bit_for_bit(string type)
    {
        var t = QuantFixtures.Type(type);
        var expected = QuantFixtures.Floats($"{type}.w.deq.f32");
        var actual = new float[expected.Length];
        Quants.Dequantize(t, QuantFixtures.Bytes($"{type}.w"), actual);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]), $"{type}[{i}]: ggml {expected[i]:R}, ours {actual[i]:R}");
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q8_1")]
    [InlineData("q8_K")]
    public void Activation_quantizer_matches_ggml_cpu_x86_runtime(string type)
    {
        var t = QuantFixtures.Type(type);
        var expected = QuantFixtures.Bytes($"{type}.x.rt.native");
        var actual = new byte[expected.Length];
        Quants.Quantize(t, X, actual);
        Assert.Equal(-1, QuantFixtures.FirstDifference(expected, actual));
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q8_1")]
    [InlineData("q8_K")]
    public void Reference_quantizer_matches_ggml_ref(string type)
    {
        var expected = QuantFixtures.Bytes($"{type}.x.ref");
        var actual = new byte[expected.Length];
        switch (type)
        {
            case "q8_0": Q8_0.QuantizeReference(X, actual); break;
            case "q8_1": Q8_1.QuantizeReference(X, actual); break;
            default: Q8_K.Quantize(X, actual); break;
        }
        Assert.Equal(-1, QuantFixtures.FirstDifference(expected, actual));
    }

    [Fact]
    public void Runtime_and_reference_q8_0_really_differ_on_this_data()
    {
        // Guards the two tests above: if the fixtures made both quantizers agree, they would not tell them apart.
        Assert.NotEqual(-1, QuantFixtures.FirstDifference(QuantFixtures.Bytes("q8_0.x.ref"), QuantFixtures.Bytes("q8_0.x.rt.native")));
        Assert.NotEqual(-1, QuantFixtures.FirstDifference(QuantFixtures.Bytes("q8_1.x.ref"), QuantFixtures.Bytes("q8_1.x.rt.native")));
    }

    [Fact]
    public void Q8_K_dequantize_matches_ggml()
    {
        var expected = QuantFixtures.Floats("q8_K.x.deq.f32");
        var actual = new float[expected.Length];
        Q8_K.Dequantize(QuantFixtures.Bytes("q8_K.x.rt.generic"), actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Dot_matches_ggml_scalar_vec_dot_bit_for_bit()
    {
        foreach (var (type, n, bits) in QuantFixtures.Dots("generic"))
        {
            var t = QuantFixtures.Type(type);
            var act = QuantFixtures.Bytes($"{QuantFixtures.Name(Quants.VecDotType(t))}.x.rt.generic");
            // Quants dispatches Q8_0 to its x86-order kernel; the scalar reference is Q8_0.Dot.
            float dot = t == GgmlType.Q8_0 ? Q8_0.Dot(QuantFixtures.Bytes($"{type}.w"), act, n) : Quants.VecDot(t, QuantFixtures.Bytes($"{type}.w"), act, n);
            Assert.True(BitConverter.SingleToUInt32Bits(dot) == bits, $"{type} n={n}: ggml {BitConverter.UInt32BitsToSingle(bits):R}, ours {dot:R}");
        }
    }

    [Fact]
    public void Q8_0_x86_order_matches_ggml_native_vec_dot_bit_for_bit()
    {
        int checkedCount = 0;
        foreach (var (type, n, bits) in QuantFixtures.Dots("native"))
        {
            if (type != "q8_0") continue;
            var act = QuantFixtures.Bytes("q8_0.x.rt.native");
            float dot = Q8_0.DotX86(QuantFixtures.Bytes("q8_0.w"), act, n);
            Assert.True(BitConverter.SingleToUInt32Bits(dot) == bits, $"q8_0 n={n}: ggml {BitConverter.UInt32BitsToSingle(bits):R}, ours {dot:R}");
            checkedCount++;
        }
        Assert.True(checkedCount > 0);
    }

    [Fact]
    public void Dot_is_close_to_ggml_simd_vec_dot()
    {
        // The AVX2/AVX-512 kernels sum in a different order (and with FMA), so only closeness is expected.
        foreach (var (type, n, bits) in QuantFixtures.Dots("native"))
        {
            var t = QuantFixtures.Type(type);
            var act = QuantFixtures.Bytes($"{QuantFixtures.Name(Quants.VecDotType(t))}.x.rt.native");
            float expected = BitConverter.UInt32BitsToSingle(bits);
            float dot = Quants.VecDot(t, QuantFixtures.Bytes($"{type}.w"), act, n);
            Assert.True(MathF.Abs(dot - expected) <= 1e-5f * MathF.Max(1, MathF.Abs(expected)) + 1e-3f, $"{type} n={n}: ggml {expected:R}, ours {dot:R}");
        }
    }

    [Fact]
    public void Fp16_conversion_matches_f16c()
    {
        var src = QuantFixtures.Floats("conv.src.f32");
        var expected = MemoryMarshal.Cast<byte, ushort>(QuantFixtures.Bytes("conv.f16"));
        var actual = new Half[src.Length];
        FloatFormats.F32ToF16(src, actual);
        for (int i = 0; i < src.Length; i++)
            Assert.True(expected[i] == BitConverter.HalfToUInt16Bits(actual[i]), $"{src[i]:R}: F16C 0x{expected[i]:x4}, ours 0x{BitConverter.HalfToUInt16Bits(actual[i]):x4}");
    }

    [Fact]
    public void Bf16_conversion_matches_ggml()
    {
        var src = QuantFixtures.Floats("conv.src.f32");
        var expected = MemoryMarshal.Cast<byte, ushort>(QuantFixtures.Bytes("conv.bf16"));
        var actual = new ushort[src.Length];
        FloatFormats.F32ToBF16(src, actual);
        for (int i = 0; i < src.Length; i++)
            Assert.True(expected[i] == actual[i], $"{src[i]:R}: ggml 0x{expected[i]:x4}, ours 0x{actual[i]:x4}");
    }
}
