using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Models.Architectures.Moe;

/// <summary>
/// The mixture-of-experts feed-forward written plainly, one token at a time in double precision, from the
/// dequantized stacked tensors: what <see cref="MoeFeedForward"/> must equal within rounding.
/// </summary>
public static class ReferenceMoe
{
    /// <summary>y = MoE(x) for one normed token row <paramref name="x"/> (length dim).</summary>
    public static void Forward(ModelConfig c, MoeWeights w, ReadOnlySpan<float> x, Span<float> y)
    {
        int dim = c.Dim, E = c.ExpertCount, ff = c.ExpertFfnDim;
        var p = new double[E];
        for (int e = 0; e < E; e++) p[e] = Dot(Row(w.Router, e), x);
        if (c.ExpertGating == MoeGating.Sigmoid)
            for (int e = 0; e < E; e++) p[e] = 1 / (1 + Math.Exp(-p[e]));
        else
        {
            double max = p.Max(), sum = 0;
            for (int e = 0; e < E; e++) sum += p[e] = Math.Exp(p[e] - max);
            for (int e = 0; e < E; e++) p[e] /= sum;
        }

        // The selection bias moves which experts are chosen, never their weights; group-limited routing keeps the
        // experts of the groups whose two best biased scores sum highest (DeepSeek-V3's reference).
        var bias = w.ProbsBias is { } pb ? Row(pb, 0) : new float[E];
        var select = Enumerable.Range(0, E).Select(e => p[e] + bias[e]).ToArray();
        var allowed = Enumerable.Range(0, E).ToHashSet();
        if (c.ExpertGroupCount > 1 && c.ExpertGroupUsedCount < c.ExpertGroupCount)
        {
            int size = E / c.ExpertGroupCount;
            var groups = Enumerable.Range(0, c.ExpertGroupCount)
                .OrderByDescending(g => select.Skip(g * size).Take(size).OrderDescending().Take(2).Sum()).ThenBy(g => g)
                .Take(c.ExpertGroupUsedCount);
            allowed = groups.SelectMany(g => Enumerable.Range(g * size, size)).ToHashSet();
        }
        var chosen = Enumerable.Range(0, E).Where(allowed.Contains).OrderByDescending(e => select[e]).ThenBy(e => e).Take(c.ExpertUsedCount).ToArray();
        var weight = chosen.Select(e => p[e]).ToArray();
        if (c.ExpertWeightsNorm) { double s = weight.Sum(); for (int j = 0; j < weight.Length; j++) weight[j] /= s; }
        for (int j = 0; j < weight.Length; j++) weight[j] *= c.ExpertWeightsScale;

        var acc = new double[dim];
        for (int j = 0; j < chosen.Length; j++)
            AddFfn(acc, x, w.GateExps, w.UpExps, w.DownExps, chosen[j] * ff, chosen[j] * dim, ff, weight[j]);
        if (w.DownShexp is not null)
        {
            double gate = 1;
            if (w.SharedGateInp is { } g) gate = 1 / (1 + Math.Exp(-Dot(Row(g, 0), x)));
            AddFfn(acc, x, w.GateShexp!, w.UpShexp!, w.DownShexp, 0, 0, c.SharedExpertFfnDim, gate);
        }
        for (int i = 0; i < dim; i++) y[i] = (float)acc[i];
    }

    /// <summary>acc += scale · down(silu(gate·x) · up·x), over rows [gate0, gate0+ff) of gate/up and [down0, down0+dim) of down.</summary>
    private static void AddFfn(double[] acc, ReadOnlySpan<float> x, WeightTensor gate, WeightTensor up, WeightTensor down, int gate0, int down0, int ff, double scale)
    {
        var h = new float[ff];
        for (int r = 0; r < ff; r++)
        {
            double g = Dot(Row(gate, gate0 + r), x), u = Dot(Row(up, gate0 + r), x);
            h[r] = (float)(g / (1 + Math.Exp(-g)) * u);
        }
        for (int i = 0; i < acc.Length; i++) acc[i] += scale * Dot(Row(down, down0 + i), h);
    }

    private static float[] Row(WeightTensor t, int row)
    {
        var f = new float[t.Cols];
        Quants.Dequantize(t.Type, t.Row(row), f);
        return f;
    }

    private static double Dot(float[] a, ReadOnlySpan<float> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += (double)a[i] * b[i];
        return s;
    }
}
