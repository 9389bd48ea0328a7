using Loom.Tests;
using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

public class SamplerAllocationTests
{
    public static TheoryData<SamplingParams> Configurations => new()
    {
        SamplingParams.Greedy(16),
        SamplingParams.Greedy(16) with { RepetitionPenalty = 1.1f, MinTokens = 5, StopTokenIds = [1, 2] },
        new SamplingParams { Seed = 1 },
        new SamplingParams { Seed = 1, Temperature = 0.8f, TopK = 40 },
        new SamplingParams { Seed = 1, TopP = 0.9f },
        new SamplingParams { Seed = 1, Temperature = 3f, TopP = 0.99f },
        new SamplingParams { Seed = 1, MinP = 0.05f },
        new SamplingParams { Seed = 1, TopK = 50, TopP = 0.95f, MinP = 0.01f, RepetitionPenalty = 1.2f, PresencePenalty = 0.5f, FrequencyPenalty = 0.5f },
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Sample_allocates_nothing_after_warm_up(SamplingParams p)
    {
        const int vocab = 32_000;
        var rng = new SamplingRng(5);
        var logits = new float[vocab];
        for (var i = 0; i < vocab; i++) logits[i] = (float)(rng.NextDouble() * 20 - 10);
        var prompt = Enumerable.Range(0, 300).Select(i => i * 7 % vocab).ToArray();
        var output = new int[1100];
        var work = new float[vocab];
        var s = new Sampler(p, vocab);

        var produced = 0;
        void Step()
        {
            logits.CopyTo(work, 0);
            output[produced % output.Length] = s.Sample(work, prompt, output.AsSpan(0, Math.Min(produced, 1000)));
            produced++;
        }
        // A fixed warm-up was not enough: on a loaded machine tiered JIT recompiles later, and that allocates here.
        var allocated = AllocationProbe.Measure(Step, measured: 1000, maxSteps: 20_000);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Logprobs_allocate_nothing()
    {
        var logits = new float[32_000];
        for (var j = 0; j < logits.Length; j++) logits[j] = MathF.Sin(j);
        var ids = new int[20];
        var lps = new float[20];
        var i = 0;
        void Step()
        {
            var lse = Logprobs.LogSumExp(logits);
            Logprobs.TopN(logits, lse, ids, lps);
            Logprobs.LogSoftmaxAt(logits, i++ % logits.Length, lse);
        }
        Assert.Equal(0, AllocationProbe.Measure(Step, measured: 200, maxSteps: 5_000));
    }
}
