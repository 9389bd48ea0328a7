using Loom.Core.Quantization;
using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Formats.Gguf;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>
/// Gemma 2 and 3 written out plainly in double, token by token over the whole prompt with no cache, against the
/// transformer's logits on the same F32 file. llama.cpp c392e50 has no gemma3, so for Gemma 3 this is the check of
/// its math (QK-norm, the local layers' RoPE base of 10000, the 5:1 pattern, post-norms, GeGLU, scalings);
/// Gemma 2 runs through it too, and has llama.cpp besides (GemmaParityTests).
/// </summary>
public class GemmaReferenceForwardTests
{
    /// <param name="ropeScale">A linear RoPE scaling factor written into the file (Gemma 3 4B and up have 8): it applies to the global layers only.</param>
    [Theory]
    [InlineData("gemma2-tiny", 1.0)]
    [InlineData("gemma3-tiny", 1.0)]
    [InlineData("gemma3-tiny", 8.0)]
    public void TransformerMatchesAPlainForwardPass(string shape, double ropeScale)
    {
        using var dir = new TempDir();
        var spec = shape == "gemma2-tiny" ? SyntheticModelSpec.Gemma2Tiny : SyntheticModelSpec.Gemma3Tiny;
        SyntheticModel.Write(dir.File("m.gguf"), spec, GgmlType.F32, seed: 3);
        if (ropeScale != 1)
        {
            using var f = GgufFile.Open(dir.File("m.gguf"));
            var w = new GgufWriter();
            foreach (var (k, v) in f.Metadata) w.Add(k, v);
            w.Add($"{spec.Architecture}.rope.scaling.type", "linear");
            w.Add($"{spec.Architecture}.rope.scaling.factor", (float)ropeScale);
            foreach (var t in f.Tensors) w.AddTensor(t.Name, t.Type, t.Shape, f.GetTensor(t.Name).Bytes.ToArray());
            w.Write(dir.File("s.gguf"));
        }
        using var model = ModelLoader.Load(dir.File(ropeScale != 1 ? "s.gguf" : "m.gguf"));
        var c = model.Config;
        Assert.Equal((float)(1 / ropeScale), c.RopeFreqScale);
        var tokens = Enumerable.Range(0, 40).Select(i => 3 + (i * 37 + 11) % (c.VocabSize - 3)).ToArray(); // 40 > window 16

        var expected = PlainForward(model.Transformer.Weights, c, tokens, ropeScale);

        int bs = 16, blocks = (tokens.Length + bs - 1) / bs;
        using var cache = new KvCache(c.NumLayers, c.NumKvHeads * c.HeadDim, blocks, bs);
        var batch = new ForwardBatch();
        batch.Add(tokens, 0, Enumerable.Range(0, blocks).ToArray(), LogitRequest.All);
        var logits = new float[tokens.Length * c.VocabSize];
        model.Transformer.Forward(batch, cache, logits);

        double worst = 0;
        for (int i = 0; i < logits.Length; i++) worst = Math.Max(worst, Math.Abs(logits[i] - expected[i]));
        // The transformer rounds K, V, Q and probabilities to f16 in attention, as llama.cpp does.
        Assert.True(worst < 2e-2, $"largest logit difference {worst}");
        for (int t = 0; t < tokens.Length; t++)
        {
            var mine = logits.AsSpan(t * c.VocabSize, c.VocabSize);
            var plain = expected.AsSpan(t * c.VocabSize, c.VocabSize);
            int a = ArgMax(mine), b = ArgMax(plain);
            Assert.True(a == b || Math.Abs(plain[a] - plain[b]) < 2e-2, $"position {t}: argmax {a} vs {b}");
        }
    }

    private static int ArgMax(ReadOnlySpan<float> x) { int best = 0; for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i; return best; }
    private static int ArgMax(ReadOnlySpan<double> x) { int best = 0; for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i; return best; }

    private static double[] F(WeightTensor t)
    {
        var f = new float[t.ElementCount];
        Quants.Dequantize(t.Type, t.Bytes, f);
        return f.Select(v => (double)v).ToArray();
    }

    /// <summary>y = W·x for a ggml [in, out] matrix (row o holds output o's weights).</summary>
    private static double[] Mul(double[] w, double[] x)
    {
        int n = x.Length, m = w.Length / n;
        var y = new double[m];
        for (int o = 0; o < m; o++) { double s = 0; for (int i = 0; i < n; i++) s += w[o * n + i] * x[i]; y[o] = s; }
        return y;
    }

    private static double[] Norm(double[] x, double[] w, double eps, int offset = 0, int n = -1)
    {
        if (n < 0) n = x.Length;
        var y = (double[])x.Clone();
        double ss = 0;
        for (int i = 0; i < n; i++) ss += x[offset + i] * x[offset + i];
        double r = 1 / Math.Sqrt(ss / n + eps);
        for (int i = 0; i < n; i++) y[offset + i] = x[offset + i] * r * w[i];
        return y;
    }

    private static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    /// <summary>Rotates each head's halves (NeoX): pair (i, i + d/2) by pos·base^(-2i/d).</summary>
    private static void Rope(double[] x, int heads, int hd, double pos, double theta)
    {
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < hd / 2; i++)
            {
                double a = pos * Math.Pow(theta, -2.0 * i / hd);
                int p = h * hd + i, q = p + hd / 2;
                (x[p], x[q]) = (x[p] * Math.Cos(a) - x[q] * Math.Sin(a), x[p] * Math.Sin(a) + x[q] * Math.Cos(a));
            }
    }

    private static double[] PlainForward(ModelWeights w, ModelConfig c, int[] tokens, double ropeScale)
    {
        int T = tokens.Length, dim = c.Dim, hd = c.HeadDim, H = c.NumHeads, KH = c.NumKvHeads, group = H / KH;
        bool gemma3 = c.Architecture == "gemma3";
        double eps = c.RmsNormEps;
        var emb = F(w.TokenEmbedding);
        var x = new double[T][];
        for (int t = 0; t < T; t++) x[t] = Enumerable.Range(0, dim).Select(i => emb[tokens[t] * dim + i] * Math.Sqrt(dim)).ToArray();
        for (int l = 0; l < c.NumLayers; l++)
        {
            var L = w.Layers[l];
            // Gemma 2: layers 0, 2, 4, … slide; Gemma 3: all but every sixth (5, 11, …).
            bool sliding = gemma3 ? l % 6 != 5 : l % 2 == 0;
            double theta = gemma3 && sliding ? 10000 : c.RopeTheta;
            double positionScale = gemma3 && sliding ? 1 : 1 / ropeScale;
            double[] wq = F(L.Wq), wk = F(L.Wk), wv = F(L.Wv), wo = F(L.Wo), an = F(L.AttnNorm), pan = F(L.AttnPostNorm!), fn = F(L.FfnNorm), pfn = F(L.FfnPostNorm!);
            double[] wg = F(L.WGate!), wu = F(L.WUp!), wd = F(L.WDown!);
            double[]? qn = gemma3 ? F(L.QNorm!) : null, kn = gemma3 ? F(L.KNorm!) : null;
            var qs = new double[T][]; var ks = new double[T][]; var vs = new double[T][];
            for (int t = 0; t < T; t++)
            {
                var h = Norm(x[t], an, eps);
                qs[t] = Mul(wq, h); ks[t] = Mul(wk, h); vs[t] = Mul(wv, h);
                if (gemma3)
                {
                    for (int i = 0; i < H; i++) qs[t] = Norm(qs[t], qn!, eps, i * hd, hd);
                    for (int i = 0; i < KH; i++) ks[t] = Norm(ks[t], kn!, eps, i * hd, hd);
                }
                Rope(qs[t], H, hd, t * positionScale, theta);
                Rope(ks[t], KH, hd, t * positionScale, theta);
            }
            var next = new double[T][];
            for (int t = 0; t < T; t++)
            {
                int lo = sliding ? Math.Max(0, t - c.SlidingWindow + 1) : 0;
                var att = new double[H * hd];
                for (int h = 0; h < H; h++)
                {
                    int kvh = h / group;
                    var s = new double[t + 1 - lo];
                    for (int j = lo; j <= t; j++)
                    {
                        double d = 0;
                        for (int i = 0; i < hd; i++) d += qs[t][h * hd + i] * ks[j][kvh * hd + i];
                        d /= Math.Sqrt(hd); // query_pre_attn_scalar = head dim for these sizes
                        if (c.AttnSoftcap > 0) d = c.AttnSoftcap * Math.Tanh(d / c.AttnSoftcap);
                        s[j - lo] = d;
                    }
                    double mx = s.Max(), sum = 0;
                    for (int j = 0; j < s.Length; j++) sum += s[j] = Math.Exp(s[j] - mx);
                    for (int j = lo; j <= t; j++)
                        for (int i = 0; i < hd; i++) att[h * hd + i] += s[j - lo] / sum * vs[j][kvh * hd + i];
                }
                var o = Norm(Mul(wo, att), pan, eps);
                var r = x[t].Select((v, i) => v + o[i]).ToArray();
                var hf = Norm(r, fn, eps);
                var g = Mul(wg, hf); var u = Mul(wu, hf);
                var f = Norm(Mul(wd, g.Select((v, i) => Gelu(v) * u[i]).ToArray()), pfn, eps);
                next[t] = r.Select((v, i) => v + f[i]).ToArray();
            }
            x = next;
        }
        var on = F(w.OutputNorm);
        var logits = new double[T * c.VocabSize];
        for (int t = 0; t < T; t++)
        {
            var xn = Norm(x[t], on, eps);
            var lg = Mul(emb, xn);
            for (int v = 0; v < c.VocabSize; v++)
                logits[t * c.VocabSize + v] = c.FinalSoftcap > 0 ? c.FinalSoftcap * Math.Tanh(lg[v] / c.FinalSoftcap) : lg[v];
        }
        return logits;
    }
}
