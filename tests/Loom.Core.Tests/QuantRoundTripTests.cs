using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Core.Tests;

/// <summary>Properties that hold for any input: bounded round-trip error, exactness on the grid, Dot agreeing with the float dot.</summary>
public class QuantRoundTripTests
{
    private static readonly GgmlType[] AllBlockTypes =
    [
        GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0, GgmlType.Q8_1,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_K,
    ];

    private static readonly GgmlType[] WeightTypes =
    [
        GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    ];

    public static TheoryData<GgmlType, int> TypesAndBlockCounts()
    {
        var data = new TheoryData<GgmlType, int>();
        foreach (var t in AllBlockTypes) foreach (int blocks in new[] { 1, 2, 3, 7 }) data.Add(t, blocks);
        return data;
    }

    public static TheoryData<GgmlType, int> WeightTypesAndBlockCounts()
    {
        var data = new TheoryData<GgmlType, int>();
        foreach (var t in WeightTypes) foreach (int blocks in new[] { 1, 2, 3, 7 }) data.Add(t, blocks);
        return data;
    }

    public static TheoryData<GgmlType> Types()
    {
        var data = new TheoryData<GgmlType>();
        foreach (var t in AllBlockTypes) data.Add(t);
        return data;
    }

    private static float Gaussian(Random r) => (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));

    private static float[] RoundTrip(GgmlType t, float[] x)
    {
        var q = new byte[TypeTraits.RowSize(t, x.Length)];
        Quants.Quantize(t, x, q);
        var y = new float[x.Length];
        Quants.Dequantize(t, q, y);
        return y;
    }

    /// <summary>Upper bound on RMS(error) / RMS(x) for gaussian data, a little above what ggml's quantizers reach.</summary>
    private static double RelativeRmseBound(GgmlType t) => t switch
    {
        GgmlType.Q4_0 => 0.11, GgmlType.Q4_1 => 0.095, GgmlType.Q5_0 => 0.055, GgmlType.Q5_1 => 0.048,
        GgmlType.Q8_0 or GgmlType.Q8_1 or GgmlType.Q8_K => 0.009,
        GgmlType.Q2_K => 0.36, GgmlType.Q3_K => 0.18, GgmlType.Q4_K => 0.085, GgmlType.Q5_K => 0.045, GgmlType.Q6_K => 0.023,
        _ => throw new ArgumentException(t.ToString()),
    };

    [Theory, MemberData(nameof(TypesAndBlockCounts))]
    public void Round_trip_error_is_bounded_on_gaussian_data(GgmlType t, int blocks)
    {
        var r = new Random(1000 * (int)t + blocks);
        var x = new float[blocks * TypeTraits.BlockSize(t)];
        for (int i = 0; i < x.Length; i++) x[i] = Gaussian(r);
        var y = RoundTrip(t, x);
        double err = 0, sig = 0;
        for (int i = 0; i < x.Length; i++) { err += (x[i] - y[i]) * (double)(x[i] - y[i]); sig += x[i] * (double)x[i]; }
        double rel = Math.Sqrt(err / sig);
        Assert.True(rel < RelativeRmseBound(t), $"{t} x{blocks}: relative RMSE {rel:F4}");
        Assert.True(rel > 0, $"{t}: gaussian data cannot round-trip exactly");
    }

    [Theory, MemberData(nameof(TypesAndBlockCounts))]
    public void Round_trip_error_per_element_is_within_half_a_step(GgmlType t, int blocks)
    {
        // For the simple formats the step is known: symmetric ones have d = amax/(levels/2), min ones (max-min)/(levels-1).
        if (TypeTraits.BlockSize(t) != 32 && t != GgmlType.Q8_K) return;
        var r = new Random(77 + blocks);
        int bs = TypeTraits.BlockSize(t);
        var x = new float[blocks * bs];
        for (int i = 0; i < x.Length; i++) x[i] = Gaussian(r) * (1 + i / bs) - (t is GgmlType.Q4_1 or GgmlType.Q5_1 ? 3 : 0);
        var y = RoundTrip(t, x);
        for (int b = 0; b < blocks; b++)
        {
            float amax = 0, min = float.MaxValue, max = float.MinValue;
            for (int i = b * bs; i < (b + 1) * bs; i++) { amax = MathF.Max(amax, MathF.Abs(x[i])); min = MathF.Min(min, x[i]); max = MathF.Max(max, x[i]); }
            double step = t switch
            {
                GgmlType.Q4_0 => amax / 8, GgmlType.Q5_0 => amax / 16, GgmlType.Q4_1 => (max - min) / 15, GgmlType.Q5_1 => (max - min) / 31,
                _ => amax / 127,
            };
            // Half a step, plus what fp16 rounding of the scale (and of the min) can add across the whole range. Q4_0 and
            // Q5_0 put the largest magnitude on the negative end (-8, -16) so the other side stops one level short:
            // values there may be off by a whole step.
            double bound = (t is GgmlType.Q4_0 or GgmlType.Q5_0 ? step : step / 2) + (amax + MathF.Abs(min)) * 1.5 / 2048;
            for (int i = b * bs; i < (b + 1) * bs; i++)
                Assert.True(Math.Abs(x[i] - y[i]) <= bound, $"{t} block {b} element {i}: {x[i]} -> {y[i]}, bound {bound}");
        }
    }

    [Fact]
    public void Values_on_the_grid_round_trip_exactly()
    {
        var r = new Random(5);
        void Check(GgmlType t, Func<int, float> value)
        {
            var x = new float[3 * TypeTraits.BlockSize(t)];
            for (int i = 0; i < x.Length; i++) x[i] = value(i);
            Assert.Equal(x, RoundTrip(t, x));
        }
        // Each block holds its extreme level so the scale comes out as exactly the grid step.
        Check(GgmlType.Q4_0, i => i % 32 == 7 ? -8 * 0.25f : (r.Next(16) - 8) * 0.25f);
        Check(GgmlType.Q5_0, i => i % 32 == 3 ? -16 * 4f : (r.Next(32) - 16) * 4f);
        Check(GgmlType.Q4_1, i => i % 32 == 0 ? -2f : i % 32 == 1 ? 15 * 0.5f - 2 : r.Next(16) * 0.5f - 2);
        Check(GgmlType.Q5_1, i => i % 32 == 0 ? 1f : i % 32 == 1 ? 31 * 0.125f + 1 : r.Next(32) * 0.125f + 1);
        Check(GgmlType.Q8_0, i => i % 32 == 9 ? 127f : r.Next(255) - 127);
        Check(GgmlType.Q8_1, i => i % 32 == 9 ? -127f : r.Next(255) - 127);
        Check(GgmlType.Q8_K, i => i % 256 == 200 ? -127f : r.Next(255) - 127);
    }

    [Theory, MemberData(nameof(Types))]
    public void All_zero_input_gives_zero_blocks(GgmlType t)
    {
        var x = new float[2 * TypeTraits.BlockSize(t)];
        var q = new byte[TypeTraits.RowSize(t, x.Length)];
        Array.Fill(q, (byte)0xAA);
        Quants.Quantize(t, x, q);
        var y = new float[x.Length];
        Quants.Dequantize(t, q, y);
        Assert.All(y, v => Assert.Equal(0f, v));
        if (t != GgmlType.Q8_1 && t != GgmlType.Q8_K)
        {
            var act = new byte[TypeTraits.RowSize(Quants.VecDotType(t), x.Length)];
            Quants.Quantize(Quants.VecDotType(t), x, act);
            Assert.Equal(0f, Quants.VecDot(t, q, act, x.Length));
        }
    }

    [Theory, MemberData(nameof(Types))]
    public void Negative_and_large_values_keep_their_sign_and_magnitude(GgmlType t)
    {
        var r = new Random(11);
        var x = new float[2 * TypeTraits.BlockSize(t)];
        // all negative in block 0; large (but within fp16 range for the scales) in block 1
        int bs = TypeTraits.BlockSize(t);
        for (int i = 0; i < x.Length; i++) x[i] = i < bs ? -1 - (float)r.NextDouble() : 2000 * Gaussian(r);
        var y = RoundTrip(t, x);
        for (int b = 0; b < 2; b++)
        {
            double err = 0, sig = 0;
            for (int i = b * bs; i < (b + 1) * bs; i++) { err += (x[i] - y[i]) * (double)(x[i] - y[i]); sig += x[i] * (double)x[i]; }
            Assert.True(Math.Sqrt(err / sig) < 1.5 * RelativeRmseBound(t) + 0.02, $"{t} block {b}: relative RMSE {Math.Sqrt(err / sig):F4}");
        }
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
    }

    [Theory, MemberData(nameof(WeightTypesAndBlockCounts))]
    public void Dot_equals_float_dot_of_dequantized_rows(GgmlType t, int blocks)
    {
        var r = new Random(31 * (int)t + blocks);
        int n = blocks * TypeTraits.BlockSize(t);
        var w = new float[n];
        var x = new float[n];
        for (int i = 0; i < n; i++) { w[i] = Gaussian(r) + 0.3f; x[i] = Gaussian(r) * (i % 64 == 0 ? 8 : 1); }
        var vt = Quants.VecDotType(t);
        var qw = new byte[TypeTraits.RowSize(t, n)];
        var qx = new byte[TypeTraits.RowSize(vt, n)];
        Quants.Quantize(t, w, qw);
        Quants.Quantize(vt, x, qx);
        var dw = new float[n];
        var dx = new float[n];
        Quants.Dequantize(t, qw, dw);
        Quants.Dequantize(vt, qx, dx);
        double expected = 0, magnitude = 0;
        for (int i = 0; i < n; i++) { expected += dw[i] * (double)dx[i]; magnitude += Math.Abs(dw[i] * (double)dx[i]); }
        // Q4_1/Q5_1 use the fp16-rounded s = d*sum(q) of the activations, so they are only this close.
        double tol = (t is GgmlType.Q4_1 or GgmlType.Q5_1 ? 2e-3 : 1e-5) * magnitude;
        float dot = Quants.VecDot(t, qw, qx, n);
        Assert.True(Math.Abs(dot - expected) <= tol, $"{t} x{blocks}: dot {dot}, float dot {expected}, tolerance {tol}");
    }

    [Fact]
    public void Wrong_sizes_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Q4_0.Quantize(new float[33], new byte[36]));
        Assert.Throws<ArgumentException>(() => Q4_K.Dequantize(new byte[143], new float[256]));
        Assert.Throws<ArgumentException>(() => Q8_0.Dot(new byte[34], new byte[33], 32));
    }
}
