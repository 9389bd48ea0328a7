using Loom.Core.Kernels;

namespace Loom.Core.Tests.Kernels;

/// <summary>YaRN's angles: plain RoPE without extrapolation, and the ramp between its two ends.</summary>
public class YarnRopeTests
{
    [Fact]
    public void WithoutExtrapolationItIsLinearRopeTimesMscale()
    {
        var (cos, sin, rc, rs) = (new float[8], new float[8], new float[8], new float[8]);
        foreach (int pos in new[] { 0, 1, 17, 4000 })
        {
            YarnRope.Angles(pos, 16, 10000f, 0.25f, extFactor: 0, (3, 9), mscale: 0.5f, cos, sin);
            Rope.Angles(pos, 16, 10000f, 0.25f, [], rc, rs);
            for (int i = 0; i < 8; i++)
            {
                Assert.Equal(rc[i] * 0.5f, cos[i]);
                Assert.Equal(rs[i] * 0.5f, sin[i]);
            }
        }
    }

    /// <summary>
    /// Below the low correction dimension a frequency keeps its trained (extrapolated) angle, above the high one it is
    /// interpolated by the freq scale, and the magnitude grows by 1 + 0.1·ln(1/scale).
    /// </summary>
    [Fact]
    public void RampMixesExtrapolatedAndInterpolatedAngles()
    {
        int dim = 64, pos = 1234;
        float theta = 10000f, fs = 1 / 40f;
        var corr = YarnRope.CorrectionDims(dim, 4096, theta, 32f, 1f);
        Assert.True(corr.Low >= 0 && corr.Low < corr.High && corr.High <= dim - 1);
        var (cos, sin) = (new float[dim / 2], new float[dim / 2]);
        YarnRope.Angles(pos, dim, theta, fs, extFactor: 1, corr, mscale: 1, cos, sin);
        double m = 1 + 0.1 * Math.Log(1 / fs);
        for (int i = 0; i < dim / 2; i++)
        {
            double freq = Math.Pow(theta, -2.0 * i / dim);
            double? angle = i <= corr.Low ? pos * freq : i >= corr.High ? pos * freq * fs : null;
            Assert.Equal(1.0, (cos[i] * cos[i] + sin[i] * sin[i]) / (m * m), 4);
            if (angle is not { } a) continue;
            Assert.Equal(Math.Cos(a) * m, cos[i], 2e-3);
            Assert.Equal(Math.Sin(a) * m, sin[i], 2e-3);
        }
    }
}
