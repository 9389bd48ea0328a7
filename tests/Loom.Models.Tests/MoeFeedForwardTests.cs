using Loom.Core.Kernels.Quantized;
using Loom.Core.Tensors;
using Loom.Core.Threading;
using Loom.Models.Architectures;
using Loom.Models.Architectures.Moe;
using Loom.Models.Formats.Gguf;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>The grouped mixture-of-experts feed-forward against its plain reference, and its batch invariance.</summary>
public class MoeFeedForwardTests
{
    public static TheoryData<string, GgmlType, double> Cases => new()
    {
        { "mixtral-tiny", GgmlType.F32, 1e-4 }, { "qwen2moe-tiny", GgmlType.F32, 1e-4 },
        { "qwen3moe-tiny", GgmlType.F32, 1e-4 }, { "olmoe-tiny", GgmlType.F32, 1e-4 },
        { "mixtral-tiny", GgmlType.F16, 3e-3 }, { "qwen2moe-tiny", GgmlType.Q8_0, 3e-2 },
        { "olmoe-tiny", GgmlType.Q4_0, 3e-2 }, { "qwen3moe-tiny", GgmlType.Q4_K, 3e-2 },
        { "deepseek2-tiny", GgmlType.F32, 1e-4 }, { "deepseek2-v3-tiny", GgmlType.F32, 1e-4 }, { "deepseek2-grouped-tiny", GgmlType.F32, 1e-4 },
        { "deepseek2-v3-tiny", GgmlType.F16, 3e-3 }, { "deepseek2-grouped-tiny", GgmlType.Q8_0, 3e-2 },
    };

    private static SyntheticModelSpec Spec(string name) => name switch
    {
        "mixtral-tiny" => SyntheticModelSpec.MixtralTiny,
        "qwen2moe-tiny" => SyntheticModelSpec.Qwen2MoeTiny,
        "qwen3moe-tiny" => SyntheticModelSpec.Qwen3MoeTiny,
        "deepseek2-tiny" => SyntheticModelSpec.Deepseek2Tiny,
        // DeepSeek-V3's routing: sigmoid scores, the selection bias, renormalized and scaled weights.
        "deepseek2-v3-tiny" => SyntheticModelSpec.Deepseek2Tiny with { Mla = SyntheticModelSpec.Deepseek2Tiny.Mla! with { GatingFunc = 2, ProbsBias = true, WeightsNorm = true, WeightsScale = 2.5f } },
        // ... and group-limited: 4 groups of 2 experts, the best 2 groups open.
        "deepseek2-grouped-tiny" => SyntheticModelSpec.Deepseek2Tiny with
        {
            Mla = SyntheticModelSpec.Deepseek2Tiny.Mla! with { GatingFunc = 2, ProbsBias = true, WeightsNorm = true, ExpertGroups = 4, ExpertGroupsUsed = 2 },
        },
        _ => SyntheticModelSpec.OlmoeTiny,
    };

    /// <summary>A layer with its expert views, run on a fresh scratch.</summary>
    private sealed class Layer : IDisposable
    {
        private readonly TempDir _dir = new();
        private readonly List<PackedMatrix> _packed = [];
        public readonly ModelConfig Config;
        public readonly ModelWeights Weights;
        public readonly MoeFeedForward Moe;

        public Layer(SyntheticModelSpec spec, GgmlType type)
        {
            // K-quants need rows of 256: widen the tiny model.
            if (TypeTraits.BlockSize(type) == 256) spec = spec with { Dim = 256, ExpertFfnDim = 256, HeadDim = 64 };
            string path = _dir.File("moe.gguf");
            SyntheticModel.Write(path, spec, type, seed: 5);
            (Config, Weights) = GgufModelLoader.Load(GgufFile.Open(path));
            Moe = new MoeFeedForward(Config, Weights.Layers[1].Moe!, _packed);
        }

        public float[] Run(float[] x, int tokens, bool gemv)
        {
            var s = new MoeScratch();
            s.Ensure(Config, [Moe], tokens);
            var y = new float[tokens * Config.Dim];
            Moe.Forward(x, tokens, Enumerable.Repeat(gemv, tokens).ToArray(), y, s, ComputePool.Shared);
            return y;
        }

        public void Dispose()
        {
            foreach (var p in _packed) p.Dispose();
            Weights.Dispose();
            _dir.Dispose();
        }
    }

    private static float[] Inputs(int tokens, int dim, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, tokens * dim).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 1.7f).ToArray();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesReference(string shape, GgmlType type, double tolerance)
    {
        using var layer = new Layer(Spec(shape), type);
        int dim = layer.Config.Dim, tokens = 13;
        var x = Inputs(tokens, dim, 7);
        var y = layer.Run(x, tokens, gemv: false);
        var expected = new float[dim];
        for (int t = 0; t < tokens; t++)
        {
            ReferenceMoe.Forward(layer.Config, layer.Weights.Layers[1].Moe!, x.AsSpan(t * dim, dim), expected);
            double err = 0, norm = 0;
            for (int i = 0; i < dim; i++) { err += Math.Pow(y[t * dim + i] - expected[i], 2); norm += expected[i] * expected[i]; }
            Assert.True(Math.Sqrt(err / norm) < tolerance, $"token {t}: relative error {Math.Sqrt(err / norm):g3} over {tolerance}");
        }
    }

    /// <summary>A token's experts and output are the same bit for bit whatever else is in the batch.</summary>
    [Theory]
    [InlineData("qwen2moe-tiny", GgmlType.Q8_0)]
    [InlineData("mixtral-tiny", GgmlType.F16)]
    [InlineData("olmoe-tiny", GgmlType.Q4_0)]
    [InlineData("deepseek2-grouped-tiny", GgmlType.Q8_0)]
    public void BatchInvariant(string shape, GgmlType type)
    {
        using var layer = new Layer(Spec(shape), type);
        int dim = layer.Config.Dim, tokens = 37;
        var x = Inputs(tokens, dim, 11);
        foreach (bool gemv in new[] { false, true })
        {
            var batched = layer.Run(x, tokens, gemv);
            foreach (int t in new[] { 0, 5, 36 })
            {
                var alone = layer.Run(x[(t * dim)..((t + 1) * dim)], 1, gemv);
                Assert.Equal(alone, batched[(t * dim)..((t + 1) * dim)]);
            }
        }
    }

    /// <summary>
    /// A decode step reads only the routed experts: with every other expert's weights overwritten by NaN, the token's
    /// output is unchanged bit for bit.
    /// </summary>
    [Fact]
    public void DecodeReadsOnlyTheRoutedExperts()
    {
        using var layer = new Layer(SyntheticModelSpec.OlmoeTiny, GgmlType.F32);
        var c = layer.Config;
        var w = layer.Weights.Layers[1].Moe!;
        var x = Inputs(1, c.Dim, 3);
        var expected = layer.Run(x, 1, gemv: true);

        var logits = new float[c.ExpertCount];
        var router = new float[c.Dim];
        for (int e = 0; e < c.ExpertCount; e++)
        {
            Core.Quantization.Quants.Dequantize(w.Router.Type, w.Router.Row(e), router);
            logits[e] = (float)Enumerable.Range(0, c.Dim).Sum(i => (double)router[i] * x[i]);
        }
        var chosen = new int[c.ExpertUsedCount];
        MoeRouting.Route(logits, chosen, new float[chosen.Length], c.ExpertWeightsNorm, 1f);

        var keep = new List<byte[]>();
        WeightTensor Poisoned(WeightTensor t)
        {
            var bytes = GC.AllocateArray<byte>((int)t.ByteSize, pinned: true);
            t.Bytes.CopyTo(bytes);
            var floats = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan());
            long perExpert = t.Shape[0] * t.Shape[1];
            for (int e = 0; e < c.ExpertCount; e++)
                if (!chosen.Contains(e)) floats.Slice((int)(e * perExpert), (int)perExpert).Fill(float.NaN);
            keep.Add(bytes);
            return new WeightTensor(t.Name, t.Type, t.Shape, System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(bytes, 0), t.ByteSize);
        }
        var poisoned = new MoeWeights { Router = w.Router, GateExps = Poisoned(w.GateExps), UpExps = Poisoned(w.UpExps), DownExps = Poisoned(w.DownExps) };
        var moe = new MoeFeedForward(c, poisoned, []);
        var s = new MoeScratch();
        s.Ensure(c, [moe], 1);
        var y = new float[c.Dim];
        moe.Forward(x, 1, [true], y, s, ComputePool.Shared);
        Assert.Equal(expected, y);
        GC.KeepAlive(keep);
    }

    /// <summary>
    /// Group-limited routing (no llama.cpp c392e50 peer; DeepSeek-V3's definition): a group's score is the sum of its two
    /// best biased scores, experts come only from the best groups, and the bias never reaches the weights.
    /// </summary>
    [Fact]
    public void GroupLimitedRoutingChoosesWithinTheBestGroups()
    {
        // Sigmoid scores, 3 groups of 2. Unbiased, the best two experts are 0 and 5; group sums: g0 = s0+s1, g1 = s2+s3, g2 = s4+s5.
        float[] logits = [3f, -3f, 1f, 1.2f, -2f, 2.5f];
        float[] bias = [0f, 0f, 0f, 0f, 0f, 0.1f];
        var rule = new MoeRoute(MoeGating.Sigmoid, bias, Groups: 3, GroupsUsed: 1, Normalize: true, Scale: 2f);
        int[] experts = new int[2];
        float[] weights = new float[2];
        var s = logits.Select(v => 1 / (1 + Math.Exp(-v))).ToArray();
        MoeRouting.Route(logits.ToArray(), new float[6], experts, weights, rule);
        // g1 = σ(1)+σ(1.2) ≈ 1.50 beats g0 ≈ 1.00 and g2 ≈ 1.14 (with its bias): only experts 2 and 3 may be chosen.
        Assert.Equal([3, 2], experts);
        Assert.Equal(2 * s[3] / (s[2] + s[3]), weights[0], 5);

        // Two groups open: g1 and g2; the bias lifts expert 5 over expert 2, but its weight is its unbiased score.
        MoeRouting.Route(logits.ToArray(), new float[6], experts, weights, rule with { GroupsUsed = 2, Normalize = false, Scale = 1f });
        Assert.Equal([5, 3], experts);
        Assert.Equal(s[5], weights[0], 5);
    }

    [Fact]
    public void RoutingPicksTheTopKAndNormalizes()
    {
        float[] logits = [0.5f, 2f, -1f, 2f, 1f];
        int[] experts = new int[3];
        float[] weights = new float[3];
        MoeRouting.Route(logits.ToArray(), experts, weights, normalize: false, scale: 1f);
        Assert.Equal([1, 3, 4], experts); // the tie goes to the lower index
        var p = logits.Select(v => Math.Exp(v)).ToArray();
        Assert.Equal(p[1] / p.Sum(), weights[0], 5);
        Assert.Equal(p[4] / p.Sum(), weights[2], 5);

        MoeRouting.Route(logits.ToArray(), experts, weights, normalize: true, scale: 2.5f);
        Assert.Equal(2.5, weights.Sum(), 5);
        Assert.Equal(2.5 * p[4] / (p[1] + p[3] + p[4]), weights[2], 5);
    }
}
