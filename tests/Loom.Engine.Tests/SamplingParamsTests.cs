using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

public class SamplingParamsTests
{
    public static TheoryData<string, SamplingParams> Invalid => new()
    {
        { "temperature", new SamplingParams { Temperature = -0.1f } },
        { "temperature", new SamplingParams { Temperature = float.NaN } },
        { "temperature", new SamplingParams { Temperature = float.PositiveInfinity } },
        { "top_k", new SamplingParams { TopK = -2 } },
        { "top_p", new SamplingParams { TopP = 0f } },
        { "top_p", new SamplingParams { TopP = 1.01f } },
        { "top_p", new SamplingParams { TopP = float.NaN } },
        { "min_p", new SamplingParams { MinP = -0.01f } },
        { "min_p", new SamplingParams { MinP = 1.5f } },
        { "repetition_penalty", new SamplingParams { RepetitionPenalty = 0f } },
        { "repetition_penalty", new SamplingParams { RepetitionPenalty = -1f } },
        { "presence_penalty", new SamplingParams { PresencePenalty = 2.5f } },
        { "presence_penalty", new SamplingParams { PresencePenalty = -2.01f } },
        { "frequency_penalty", new SamplingParams { FrequencyPenalty = 3f } },
        { "frequency_penalty", new SamplingParams { FrequencyPenalty = -2.5f } },
        { "max_tokens", new SamplingParams { MaxTokens = 0 } },
        { "min_tokens", new SamplingParams { MinTokens = -1 } },
        { "min_tokens", new SamplingParams { MinTokens = 20, MaxTokens = 10 } },
        { "n", new SamplingParams { N = 0 } },
        { "logprobs", new SamplingParams { Logprobs = -1 } },
        { "logprobs", new SamplingParams { Logprobs = 21 } },
        { "stop", new SamplingParams { Stop = ["ok", ""] } },
        { "stop_token_ids", new SamplingParams { StopTokenIds = [3, -1] } },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Validate_names_the_offending_parameter(string param, SamplingParams p)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(p.Validate);
        Assert.Equal(param, ex.ParamName);
        Assert.Contains(param, ex.Message);
    }

    public static TheoryData<SamplingParams> Valid => new()
    {
        new SamplingParams(),
        SamplingParams.Greedy(1),
        new SamplingParams { Temperature = 5f, TopK = -1, TopP = 1f, MinP = 1f },
        new SamplingParams { TopK = 0, TopP = 1e-6f, MinP = 0f, RepetitionPenalty = 0.5f },
        new SamplingParams { PresencePenalty = -2f, FrequencyPenalty = 2f, Logprobs = 0, N = 4 },
        new SamplingParams { Logprobs = 20, MinTokens = 16, MaxTokens = 16 },
        // vLLM, unlike OpenAI, allows more than four stop strings.
        new SamplingParams { Stop = ["a", "b", "c", "d", "e"], StopTokenIds = [0, 7] },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Validate_accepts_vllm_ranges(SamplingParams p) => p.Validate();

    [Fact]
    public void Defaults_match_vllm()
    {
        var p = new SamplingParams();
        Assert.Equal(1f, p.Temperature);
        Assert.Equal(0, p.TopK);
        Assert.Equal(1f, p.TopP);
        Assert.Equal(0f, p.MinP);
        Assert.Equal(1f, p.RepetitionPenalty);
        Assert.Equal(16, p.MaxTokens);
        Assert.Equal(1, p.N);
        Assert.Null(p.Seed);
        Assert.Null(p.Logprobs);
        Assert.Empty(p.Stop);
        Assert.False(p.IsGreedy);
    }

    [Fact]
    public void Greedy_sets_temperature_zero_and_max_tokens()
    {
        var p = SamplingParams.Greedy(7);
        Assert.True(p.IsGreedy);
        Assert.Equal(0f, p.Temperature);
        Assert.Equal(7, p.MaxTokens);
    }

    [Fact]
    public void Sampler_rejects_invalid_params()
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => new Sampler(new SamplingParams { TopP = 2f }, 10));
        Assert.Equal("top_p", ex.ParamName);
    }
}
