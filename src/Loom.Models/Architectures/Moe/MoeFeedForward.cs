using Loom.Core.Kernels;
using Loom.Core.Kernels.Quantized;
using Loom.Core.Quantization;
using Loom.Core.Tensors;
using Loom.Core.Threading;

namespace Loom.Models.Architectures.Moe;

/// <summary>
/// One layer's mixture-of-experts feed-forward, on the same <see cref="MatMul"/> kernels as the dense one. Each
/// expert is a 2-D view of its slice of the stacked 3-D tensors (packed at load like any matrix). A step routes
/// every token (<see cref="MoeRouting"/>), groups the (token, slot) pairs by expert, and runs each expert that has
/// tokens once over all of them, so its weights are read once per step and a decode reads only the routed
/// experts'. The outputs are then summed per token in slot order, weighted, as llama.cpp sums them; a shared
/// expert (Qwen2-MoE), gated by a sigmoid, is added last. <see cref="ReferenceMoe"/> is the plain form.
/// </summary>
internal sealed unsafe class MoeFeedForward
{
    private readonly ModelConfig _c;
    private readonly MoeWeights _w;
    private readonly WeightTensor[] _gate, _up, _down;
    private readonly float[]? _sharedGate;
    private readonly MoeRoute _route;

    /// <summary>Makes the expert views of <paramref name="w"/>, packing those that pack into <paramref name="packed"/> (the caller disposes them).</summary>
    public MoeFeedForward(ModelConfig c, MoeWeights w, List<PackedMatrix> packed)
    {
        _c = c; _w = w;
        _gate = Slices(w.GateExps, c.ExpertCount, packed);
        _up = Slices(w.UpExps, c.ExpertCount, packed);
        _down = Slices(w.DownExps, c.ExpertCount, packed);
        if (w.SharedGateInp is { } g)
        {
            _sharedGate = new float[g.ElementCount];
            Quants.Dequantize(g.Type, g.Bytes, _sharedGate);
        }
        float[]? bias = null;
        if (w.ProbsBias is { } b)
        {
            bias = new float[b.ElementCount];
            Quants.Dequantize(b.Type, b.Bytes, bias);
        }
        _route = MoeRoute.For(c, bias);
    }

    /// <summary>Every matrix a step multiplies by, for sizing the activation scratch.</summary>
    public IEnumerable<WeightTensor> Matrices =>
        new[] { _w.Router, _w.GateShexp, _w.UpShexp, _w.DownShexp }.OfType<WeightTensor>().Concat(_gate).Concat(_up).Concat(_down);

    private static WeightTensor[] Slices(WeightTensor t, int experts, List<PackedMatrix> packed)
    {
        long rows = t.Shape[1], bytes = rows * t.RowBytes;
        var views = new WeightTensor[experts];
        for (int e = 0; e < experts; e++)
        {
            var v = views[e] = new WeightTensor($"{t.Name}[{e}]", t.Type, [t.Shape[0], rows], t.Data + (nint)(e * bytes), bytes);
            if (PackedMatrix.CanPack(v)) packed.Add(v.Packed = PackedMatrix.Pack(v));
            if (v.Type == GgmlType.F16) v.FiniteF16 = Dot.AllFiniteF16(v);
        }
        return views;
    }

    /// <summary>
    /// y = MoE(x) for <paramref name="tokens"/> rows of x ([tokens, dim], already normed). <paramref name="gemv"/> marks
    /// the tokens the router and shared expert sum as lone decode tokens; the experts always sum as llama.cpp's
    /// <c>mul_mat_id</c> does, one token at a time.
    /// </summary>
    public void Forward(float[] x, int tokens, bool[] gemv, float[] y, MoeScratch s, ComputePool pool)
    {
        var c = _c;
        int dim = c.Dim, k = c.ExpertUsedCount, E = c.ExpertCount, ff = c.ExpertFfnDim, rows = tokens * k;

        MatMul.Compute(_w.Router, x, tokens, s.Logits, s.Quant, gemv, pool);
        for (int t = 0; t < tokens; t++)
            MoeRouting.Route(s.Logits.AsSpan(t * E, E), s.Selection, s.Experts.AsSpan(t * k, k), s.Weights.AsSpan(t * k, k), _route);

        // Group the (token, slot) pairs by expert: expert e owns rows [start[e], start[e+1]) of the grouped buffers,
        // filled in token order, and s.Row[pair] is the pair's row.
        var start = s.Start;
        Array.Clear(start, 0, E + 1);
        for (int i = 0; i < rows; i++) start[s.Experts[i] + 1]++;
        for (int e = 0; e < E; e++) start[e + 1] += start[e];
        var fill = s.Fill;
        Array.Copy(start, fill, E);
        for (int i = 0; i < rows; i++)
        {
            int r = fill[s.Experts[i]]++;
            s.Row[i] = r;
            x.AsSpan(i / k * dim, dim).CopyTo(s.Grouped.AsSpan(r * dim, dim));
        }

        // Every routed expert over its rows, all in one dispatch per product: gate and up, then down.
        var grouped = s.Grouped.AsSpan(0, rows * dim);
        MatMul.ComputeGrouped(grouped, start, E, _up, s.Up.AsSpan(0, rows * ff), s.Quant, s.Pairs, s.Lone, pool, _gate, s.Gate.AsSpan(0, rows * ff));
        LayerSteps.SwiGlu(pool, s.Gate, s.Up, rows, ff);
        MatMul.ComputeGrouped(s.Gate.AsSpan(0, rows * ff), start, E, _down, s.Down.AsSpan(0, rows * dim), s.Quant, s.Pairs, s.Lone, pool);

        if (_w.DownShexp is { } downSh) Shared(x, tokens, gemv, s, pool, downSh);
        pool.For(tokens, (long)dim * k, (this, s, y), static (j, a, b) => j.Item1.Combine(j.Item2, j.Item3, a, b));
    }

    /// <summary>The shared expert's SwiGLU output, times its gate when there is one, into <see cref="MoeScratch.SharedOut"/>.</summary>
    private void Shared(float[] x, int tokens, bool[] gemv, MoeScratch s, ComputePool pool, WeightTensor down)
    {
        int dim = _c.Dim, sh = _c.SharedExpertFfnDim;
        MatMul.Compute(x, tokens, s.Quant, gemv, _w.UpShexp!, s.SharedUp.AsSpan(0, tokens * sh), _w.GateShexp!, s.SharedGate.AsSpan(0, tokens * sh), pool: pool);
        LayerSteps.SwiGlu(pool, s.SharedGate, s.SharedUp, tokens, sh);
        MatMul.Compute(down, s.SharedGate.AsSpan(0, tokens * sh), tokens, s.SharedOut.AsSpan(0, tokens * dim), s.Quant, gemv, pool);
        if (_sharedGate is null) { Array.Fill(s.SharedScale, 1f, 0, tokens); return; }
        for (int t = 0; t < tokens; t++)
        {
            // llama.cpp forms the sigmoid as silu(g) / g.
            float g = Dot.F32(x.AsSpan(t * dim, dim), _sharedGate, gemm: !gemv[t]);
            s.SharedScale[t] = g == 0 ? 0.5f : Activations.Silu(g) / g;
        }
    }

    /// <summary>y[t] = Σ_j weight·expert output in slot order, plus the gated shared expert, for tokens [a, b).</summary>
    private void Combine(MoeScratch s, float[] y, int a, int b)
    {
        int dim = _c.Dim, k = _c.ExpertUsedCount;
        bool shared = _w.DownShexp is not null;
        for (int t = a; t < b; t++)
        {
            var yt = y.AsSpan(t * dim, dim);
            float w0 = s.Weights[t * k];
            var d0 = s.Down.AsSpan(s.Row[t * k] * dim, dim);
            for (int i = 0; i < dim; i++) yt[i] = d0[i] * w0;
            for (int j = 1; j < k; j++)
            {
                float w = s.Weights[t * k + j];
                var d = s.Down.AsSpan(s.Row[t * k + j] * dim, dim);
                for (int i = 0; i < dim; i++) yt[i] += d[i] * w;
            }
            if (!shared) continue;
            float g = s.SharedScale[t];
            var o = s.SharedOut.AsSpan(t * dim, dim);
            for (int i = 0; i < dim; i++) yt[i] += o[i] * g;
        }
    }
}

/// <summary>A transformer's buffers for its MoE layers, grown to the largest batch seen and then reused.</summary>
internal sealed class MoeScratch
{
    public float[] Logits = [], Selection = [], Weights = [], Grouped = [], Gate = [], Up = [], Down = [];
    public float[] SharedGate = [], SharedUp = [], SharedOut = [], SharedScale = [];
    public int[] Experts = [], Row = [], Start = [], Fill = [], Pairs = [];
    /// <summary>All true: every expert row is summed as a lone token.</summary>
    public bool[] Lone = [];
    public byte[] Quant = [];
    private int _tokens = -1;

    public void Ensure(ModelConfig c, MoeFeedForward?[] layers, int tokens)
    {
        if (tokens <= _tokens) return;
        int rows = tokens * c.ExpertUsedCount, sh = c.SharedExpertFfnDim;
        Logits = new float[tokens * c.ExpertCount]; Selection = new float[c.ExpertCount];
        Weights = new float[rows]; Experts = new int[rows]; Row = new int[rows];
        Start = new int[c.ExpertCount + 1]; Fill = new int[c.ExpertCount]; Pairs = new int[2 * c.ExpertCount];
        Grouped = new float[rows * c.Dim]; Down = new float[rows * c.Dim];
        Gate = new float[rows * c.ExpertFfnDim]; Up = new float[rows * c.ExpertFfnDim];
        SharedGate = new float[tokens * sh]; SharedUp = new float[tokens * sh];
        SharedOut = new float[sh > 0 ? tokens * c.Dim : 0]; SharedScale = new float[tokens];
        Lone = new bool[rows];
        Array.Fill(Lone, true);
        long quant = 0;
        foreach (var m in layers.SelectMany(l => l?.Matrices ?? [])) quant = Math.Max(quant, MatMul.ScratchBytes(m, rows));
        Quant = new byte[quant];
        _tokens = tokens;
    }
}
