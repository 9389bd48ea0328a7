using Loom.Core.Kernels;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Models.Architectures.Mla;

/// <summary>
/// Multi-head latent attention written plainly in the decompressed form llama.cpp c392e50 computes, in double
/// precision: every token's latent is expanded into per-head K = [W_UK·c_kv, k_pe] and V = W_UV·c_kv, then ordinary
/// causal attention with llama.cpp's scale. What <see cref="MlaAttention"/>'s absorbed form must equal within the
/// rounding of its f16 (or int8) cache.
/// </summary>
public static class ReferenceMla
{
    /// <summary>
    /// The heads' outputs, [tokens, heads × v], for one sequence's normed rows <paramref name="x"/> ([tokens, dim]) at
    /// positions 0, 1, …: token t attends to tokens 0..t.
    /// </summary>
    public static float[] Attention(ModelConfig c, LayerWeights w, ReadOnlySpan<float> x, int tokens)
    {
        var m = c.Mla!;
        int H = c.NumHeads, R = m.KvLoraRank, P = m.QkRopeDim, nope = m.QkNopeDim, v = m.VHeadDim, hd = c.HeadDim, dim = c.Dim;
        float fs = c.RopeFreqScale;
        double mscale = m.AttnFactor * (1.0 + m.YarnLogMultiplier * Math.Log(1.0 / fs));
        double scale = mscale * mscale / Math.Sqrt(hd);
        float ropeScale = 1.0f / (1.0f + 0.1f * MathF.Log(1.0f / fs));
        var corr = YarnRope.CorrectionDims(P, m.YarnOrigContext > 0 ? m.YarnOrigContext : c.ContextLength, c.RopeTheta, m.YarnBetaFast, m.YarnBetaSlow);

        var q = new double[tokens][];
        var k = new double[tokens][]; // [H × hd]
        var val = new double[tokens][]; // [H × v]
        for (int t = 0; t < tokens; t++)
        {
            var xt = x.Slice(t * dim, dim).ToArray().Select(f => (double)f).ToArray();
            q[t] = w.Mla!.QA is { } qa ? Product(w.Wq, Norm(Product(qa, xt), w.Mla.QANorm!.ToFloats(), c.RmsNormEps)) : Product(w.Wq, xt);
            var kv = Product(w.Wk, xt);
            var lat = Norm(kv[..R], w.Mla.KvANorm.ToFloats(), c.RmsNormEps);
            var cos = new float[P / 2];
            var sin = new float[P / 2];
            YarnRope.Angles(t, P, c.RopeTheta, fs, m.YarnExtFactor, corr, ropeScale, cos, sin);
            var kpe = Rotate(kv[R..], cos, sin);
            var up = Product(w.Wv, lat); // per head: nope K values, then v V values
            k[t] = new double[H * hd];
            val[t] = new double[H * v];
            for (int h = 0; h < H; h++)
            {
                Array.Copy(up, h * (nope + v), k[t], h * hd, nope);
                Array.Copy(kpe, 0, k[t], h * hd + nope, P);
                Array.Copy(up, h * (nope + v) + nope, val[t], h * v, v);
                Array.Copy(Rotate(q[t][(h * hd + nope)..(h * hd + hd)], cos, sin), 0, q[t], h * hd + nope, P);
            }
        }

        var output = new float[tokens * H * v];
        for (int t = 0; t < tokens; t++)
            for (int h = 0; h < H; h++)
            {
                var s = new double[t + 1];
                for (int p = 0; p <= t; p++)
                {
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += q[t][h * hd + i] * k[p][h * hd + i];
                    s[p] = d * scale;
                }
                double max = s.Max(), sum = 0;
                for (int p = 0; p <= t; p++) sum += s[p] = Math.Exp(s[p] - max);
                for (int i = 0; i < v; i++)
                {
                    double o = 0;
                    for (int p = 0; p <= t; p++) o += s[p] / sum * val[p][h * v + i];
                    output[(t * H + h) * v + i] = (float)o;
                }
            }
        return output;
    }

    /// <summary>Adjacent pairs rotated by the given angles (GGUF's deepseek2 rope is the "normal", interleaved kind).</summary>
    private static double[] Rotate(double[] x, float[] cos, float[] sin)
    {
        var y = new double[x.Length];
        for (int i = 0; i < cos.Length; i++)
        {
            y[2 * i] = x[2 * i] * cos[i] - x[2 * i + 1] * sin[i];
            y[2 * i + 1] = x[2 * i] * sin[i] + x[2 * i + 1] * cos[i];
        }
        return y;
    }

    private static double[] Norm(double[] x, float[] weight, float eps)
    {
        double ms = x.Sum(a => a * a) / x.Length, inv = 1 / Math.Sqrt(ms + eps);
        return x.Select((a, i) => a * inv * weight[i]).ToArray();
    }

    /// <summary>y = W·x for a [cols, rows] matrix.</summary>
    private static double[] Product(WeightTensor w, double[] x)
    {
        var y = new double[w.Rows];
        var row = new float[w.Cols];
        for (int r = 0; r < w.Rows; r++)
        {
            Quants.Dequantize(w.Type, w.Row(r), row);
            double d = 0;
            for (int i = 0; i < row.Length; i++) d += row[i] * x[i];
            y[r] = d;
        }
        return y;
    }
}
