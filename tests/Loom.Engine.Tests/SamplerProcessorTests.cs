using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

/// <summary>Each processor on hand-made logits, observed through <see cref="Sampler.Apply"/>.</summary>
public class SamplerProcessorTests
{
    private const float NegInf = float.NegativeInfinity;

    private static float[] Apply(SamplingParams p, float[] logits, int[]? prompt = null, int[]? output = null)
    {
        var copy = (float[])logits.Clone();
        new Sampler(p with { Seed = 1 }, copy.Length).Apply(copy, prompt ?? [], output ?? []);
        return copy;
    }

    // Logits whose softmax is exactly the given probabilities.
    private static float[] LogitsOf(params double[] probs) => [.. probs.Select(p => (float)Math.Log(p))];

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_logits_once_per_token()
    {
        var p = SamplingParams.Greedy(1) with { RepetitionPenalty = 2f };
        // Token 0 twice in the prompt, token 1 in prompt and output: each is penalised exactly once.
        Assert.Equal([1f, -4f, 3f, 0.5f, 0f], Apply(p, [2f, -2f, 3f, 0.5f, 0f], prompt: [0, 1, 0, 4], output: [1, 1]));
        var soft = SamplingParams.Greedy(1) with { RepetitionPenalty = 0.5f };
        Assert.Equal([4f, -1f, 3f], Apply(soft, [2f, -2f, 3f], prompt: [0], output: [1]));
    }

    [Fact]
    public void Presence_and_frequency_penalties_use_output_counts_only()
    {
        var p = SamplingParams.Greedy(1) with { PresencePenalty = 0.5f, FrequencyPenalty = 0.25f };
        Assert.Equal([0.25f, 1f, -0.25f, 1f], Apply(p, [1f, 1f, 1f, 1f], prompt: [1, 3, 3], output: [0, 2, 2, 2]));
        var negative = SamplingParams.Greedy(1) with { PresencePenalty = -1f, FrequencyPenalty = -0.5f };
        Assert.Equal([2.5f, 1f], Apply(negative, [1f, 1f], output: [0]));
    }

    [Fact]
    public void Repetition_penalty_comes_before_frequency_penalty()
    {
        var p = SamplingParams.Greedy(1) with { RepetitionPenalty = 1.5f, FrequencyPenalty = 1f };
        Assert.Equal([1f, 0f], Apply(p, [3f, 0f], output: [0])); // 3/1.5 - 1, not (3-1)/1.5
    }

    [Fact]
    public void Penalties_leave_unseen_tokens_alone_and_keep_no_state_between_calls()
    {
        var p = SamplingParams.Greedy(1) with { RepetitionPenalty = 2f, FrequencyPenalty = 1f };
        var s = new Sampler(p, 3);
        float[] a = [4f, 4f, 4f];
        s.Apply(a, [], [0, 0]);
        Assert.Equal([0f, 4f, 4f], a);
        float[] b = [4f, 4f, 4f];
        s.Apply(b, [], [1]);
        Assert.Equal([4f, 1f, 4f], b);
    }

    [Fact]
    public void Temperature_divides_logits()
    {
        Assert.Equal([2f, -4f, 0.5f], Apply(new SamplingParams { Temperature = 0.5f }, [1f, -2f, 0.25f]));
        Assert.Equal([0.5f, -1f, 0.125f], Apply(new SamplingParams { Temperature = 2f }, [1f, -2f, 0.25f]));
        Assert.Equal([1f, -2f, 0.25f], Apply(new SamplingParams(), [1f, -2f, 0.25f]));
    }

    [Fact]
    public void Tiny_temperatures_are_raised_to_the_vllm_minimum()
    {
        float[] expected = [1f / 0.01f, -2f / 0.01f];
        Assert.Equal(expected, Apply(new SamplingParams { Temperature = 1e-6f }, [1f, -2f]));
        var s = new Sampler(new SamplingParams { Temperature = 1e-30f, Seed = 3 }, 3);
        Assert.Equal(1, s.Sample([30f, 31f, 29f], [], []));
    }

    [Fact]
    public void Top_k_keeps_the_k_largest_and_breaks_ties_by_lowest_id()
    {
        Assert.Equal([NegInf, 3f, NegInf, 3f, NegInf], Apply(new SamplingParams { TopK = 2 }, [1f, 3f, 2f, 3f, 0f]));
        Assert.Equal([NegInf, 3f, 2f, NegInf, NegInf], Apply(new SamplingParams { TopK = 2 }, [1f, 3f, 2f, 2f, 0f]));
        Assert.Equal([1f, 3f, 2f, 2f, 0f], Apply(new SamplingParams { TopK = 5 }, [1f, 3f, 2f, 2f, 0f]));
        Assert.Equal([1f, 3f, 2f, 2f, 0f], Apply(new SamplingParams { TopK = -1 }, [1f, 3f, 2f, 2f, 0f]));
    }

    [Fact]
    public void Top_k_of_one_always_samples_the_argmax()
    {
        var s = new Sampler(new SamplingParams { TopK = 1, Seed = 5 }, 4);
        for (var i = 0; i < 50; i++) Assert.Equal(2, s.Sample([1f, 2f, 2.1f, 0f], [], []));
    }

    [Fact]
    public void Top_p_keeps_the_smallest_prefix_reaching_the_mass()
    {
        var l = LogitsOf(0.5, 0.3, 0.15, 0.05);
        Assert.Equal([l[0], NegInf, NegInf, NegInf], Apply(new SamplingParams { TopP = 0.1f }, l));
        Assert.Equal([l[0], NegInf, NegInf, NegInf], Apply(new SamplingParams { TopP = 0.45f }, l));
        Assert.Equal([l[0], l[1], NegInf, NegInf], Apply(new SamplingParams { TopP = 0.75f }, l));
        Assert.Equal([l[0], l[1], l[2], NegInf], Apply(new SamplingParams { TopP = 0.85f }, l));
        Assert.Equal(l, Apply(new SamplingParams { TopP = 0.97f }, l));
        // Order in the vocabulary does not matter.
        var shuffled = new[] { l[3], l[1], l[0], l[2] };
        Assert.Equal([NegInf, l[1], l[0], NegInf], Apply(new SamplingParams { TopP = 0.75f }, shuffled));
    }

    [Fact]
    public void Top_p_ties_are_ranked_by_lowest_id()
    {
        var equal = Enumerable.Repeat(0.5f, 10).ToArray();
        // Mass before the 5th equal token is 0.4 >= 0.35, so four stay: the four lowest ids.
        Assert.Equal([.. Enumerable.Repeat(0.5f, 4), .. Enumerable.Repeat(NegInf, 6)], Apply(new SamplingParams { TopP = 0.35f }, equal));
        float[] l = [0f, 1f, 0f, 1f, 0f, 1f];
        // Each 1 holds 0.245 of the mass, so 0.45 needs two of them.
        Assert.Equal([NegInf, 1f, NegInf, 1f, NegInf, NegInf], Apply(new SamplingParams { TopP = 0.45f }, l));
    }

    [Fact]
    public void Top_p_stops_when_the_mass_before_a_token_reaches_exactly_top_p()
    {
        // Four equal tokens: the third has exactly 0.5 before it, which is not below 0.5, so it goes (vLLM's rule).
        float[] l = [1f, 1f, 1f, 1f];
        Assert.Equal([1f, 1f, NegInf, NegInf], Apply(new SamplingParams { TopP = 0.5f }, l));
        float[] withLoser = [1f, 1f, 1f, 1f, -50f];
        Assert.Equal([1f, 1f, NegInf, NegInf, NegInf], Apply(new SamplingParams { TopP = 0.5f, TopK = 4 }, withLoser));
    }

    [Fact]
    public void Top_p_after_top_k_uses_the_renormalised_distribution()
    {
        var l = LogitsOf(0.5, 0.3, 0.15, 0.05);
        // Within the top 3 the third token's mass-before is 0.8/0.95 = 0.842 >= 0.83, so it goes; without
        // renormalisation it would be 0.8 < 0.83 and stay.
        Assert.Equal([l[0], l[1], NegInf, NegInf], Apply(new SamplingParams { TopK = 3, TopP = 0.83f }, l));
        Assert.Equal([l[0], l[1], l[2], NegInf], Apply(new SamplingParams { TopK = 3, TopP = 0.85f }, l));
    }

    [Fact]
    public void Min_p_drops_tokens_below_a_fraction_of_the_top_probability()
    {
        var l = LogitsOf(0.5, 0.3, 0.15, 0.05);
        Assert.Equal([l[0], l[1], l[2], NegInf], Apply(new SamplingParams { MinP = 0.25f }, l));
        Assert.Equal([l[0], l[1], NegInf, NegInf], Apply(new SamplingParams { MinP = 0.5f }, l));
        Assert.Equal([l[0], NegInf, NegInf, NegInf], Apply(new SamplingParams { MinP = 1f }, l));
        // Same through the sorted (top-k) path.
        Assert.Equal([l[0], l[1], NegInf, NegInf], Apply(new SamplingParams { MinP = 0.5f, TopK = 3 }, l));
        Assert.Equal([l[0], l[1], NegInf, NegInf], Apply(new SamplingParams { MinP = 0.5f, TopP = 0.99f }, l));
    }

    [Fact]
    public void Temperature_applies_before_min_p()
    {
        var l = LogitsOf(0.5, 0.3, 0.15, 0.05);
        // At T = 2 the ratios to the top become sqrt(0.6), sqrt(0.3), sqrt(0.1) = 0.77, 0.55, 0.32: all above 0.3.
        var hot = Apply(new SamplingParams { Temperature = 2f, MinP = 0.3f }, l);
        Assert.Equal([l[0] / 2, l[1] / 2, l[2] / 2, l[3] / 2], hot);
        var cold = Apply(new SamplingParams { MinP = 0.3f }, l);
        Assert.Equal([l[0], l[1], NegInf, NegInf], cold);
    }

    [Fact]
    public void Top_p_then_min_p_combine()
    {
        var l = LogitsOf(0.4, 0.35, 0.15, 0.1);
        Assert.Equal([l[0], l[1], l[2], NegInf], Apply(new SamplingParams { TopP = 0.8f }, l));
        Assert.Equal([l[0], l[1], NegInf, NegInf], Apply(new SamplingParams { TopP = 0.8f, MinP = 0.4f }, l));
    }

    public static TheoryData<SamplingParams> LargeVocabCases => new()
    {
        new SamplingParams { TopP = 0.5f },
        new SamplingParams { TopP = 0.9f, Temperature = 0.7f },
        new SamplingParams { TopP = 0.999f },
        new SamplingParams { TopP = 0.95f, Temperature = 50f },   // flat: the cheap threshold pass fails
        new SamplingParams { TopP = 0.99999f, Temperature = 1000f },
        new SamplingParams { TopK = 40 },
        new SamplingParams { TopK = 1000, TopP = 0.8f, MinP = 0.05f },
        new SamplingParams { MinP = 0.1f, Temperature = 1.3f },
        new SamplingParams { TopK = 50, TopP = 0.9f, RepetitionPenalty = 1.3f, PresencePenalty = 0.5f, FrequencyPenalty = 0.3f },
    };

    [Theory]
    [MemberData(nameof(LargeVocabCases))]
    public void Large_vocab_keeps_exactly_the_reference_set(SamplingParams p)
    {
        var rng = new SamplingRng(11);
        var logits = new float[50_000];
        for (var i = 0; i < logits.Length; i++) logits[i] = (float)(rng.NextDouble() * 12 - 6);
        for (var i = 0; i < 40; i++) logits[(int)(rng.NextUInt64() % 50_000)] += 8f;
        int[] prompt = [5, 6, 7, 100, 2000];
        int[] output = [7, 7, 3000, 42];

        var reference = SamplerReference.Distribution(p, logits, prompt, output);
        var processed = (float[])logits.Clone();
        new Sampler(p with { Seed = 2 }, logits.Length).Apply(processed, prompt, output);

        var kept = Enumerable.Range(0, logits.Length).Where(i => !float.IsNegativeInfinity(processed[i])).ToArray();
        var expected = Enumerable.Range(0, logits.Length).Where(i => reference[i] > 0).ToArray();
        Assert.Equal(expected, kept);
    }

    [Fact]
    public void Random_shapes_keep_exactly_the_reference_set()
    {
        var rng = new SamplingRng(2024);
        for (var trial = 0; trial < 40; trial++)
        {
            var vocab = 1000 + (int)(rng.NextUInt64() % 20_000);
            var scale = 0.1 + rng.NextDouble() * 30;
            var logits = new float[vocab];
            for (var i = 0; i < vocab; i++) logits[i] = (float)(rng.NextDouble() * scale);
            var p = new SamplingParams
            {
                Seed = 1,
                TopP = (float)(0.05 + rng.NextDouble() * 0.95),
                MinP = trial % 3 == 0 ? (float)(rng.NextDouble() * 0.5) : 0f,
                TopK = trial % 4 == 1 ? 1 + (int)(rng.NextUInt64() % 2000) : 0,
                Temperature = (float)(0.3 + rng.NextDouble() * 2),
            };
            var reference = SamplerReference.Distribution(p, logits);
            var processed = (float[])logits.Clone();
            new Sampler(p, vocab).Apply(processed, [], []);
            for (var i = 0; i < vocab; i++)
                Assert.True(reference[i] > 0 == !float.IsNegativeInfinity(processed[i]),
                    $"trial {trial}, token {i}: reference p={reference[i]}, processed logit {processed[i]} ({p})");
        }
    }
}
