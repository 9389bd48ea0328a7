using System.Text.Json;
using Loom.Engine;
using Loom.Engine.Sampling;

namespace Loom.Server.Tests;

/// <summary>/v1/completions through the SDK's pipeline (the SDK has no typed legacy-completions client).</summary>
[Collection("server")]
public sealed class CompletionTests(ServerFixture f)
{
    private SdkRaw Raw => new(f.Client(), f.ApiBase);

    private async Task<GenerationChoice> Direct(int[] prompt, int maxTokens, int? logprobs = null) =>
        (await GenerationResult.CollectAsync(f.Engine.AddRequest(prompt, SamplingParams.Greedy(maxTokens) with { Logprobs = logprobs }))).Choices[0];

    private int[] Encode(string text) => f.Engine.Model.Tokenizer.Encode(text, addSpecial: true, parseSpecial: true);

    [Fact]
    public async Task String_prompt_greedy_equals_the_engine()
    {
        var expected = await Direct(Encode("Once upon a time"), 10);
        var r = await Raw.PostAsync("completions", new { model = ServerFixture.ModelName, prompt = "Once upon a time", max_tokens = 10, temperature = 0 });
        Assert.Equal(200, r.Status);
        var json = r.Json;
        Assert.Equal("text_completion", json.GetProperty("object").GetString());
        Assert.StartsWith("cmpl-", json.GetProperty("id").GetString());
        Assert.True(json.GetProperty("created").GetInt64() > 1_600_000_000);
        var choice = json.GetProperty("choices")[0];
        Assert.Equal(expected.Text, choice.GetProperty("text").GetString());
        Assert.Equal(expected.FinishReason == FinishReason.Length ? "length" : "stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(Encode("Once upon a time").Length, json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected.TokenIds.Length, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Token_prompts_and_lists_of_prompts_give_a_choice_each()
    {
        int[] a = Encode("the dog"), b = Encode("a cat");
        var ea = await Direct(a, 6);
        var eb = await Direct(b, 6);
        var single = await Raw.PostAsync("completions", new { prompt = a, max_tokens = 6, temperature = 0 });
        Assert.Equal(ea.Text, single.Json.GetProperty("choices")[0].GetProperty("text").GetString());

        var listed = await Raw.PostAsync("completions", new { prompt = new[] { a, b }, max_tokens = 6, temperature = 0, n = 2 });
        var choices = listed.Json.GetProperty("choices").EnumerateArray().ToArray();
        Assert.Equal(4, choices.Length);
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal([ea.Text, ea.Text, eb.Text, eb.Text], choices.Select(c => c.GetProperty("text").GetString()));
        Assert.Equal(a.Length + b.Length, listed.Json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        var strings = await Raw.PostAsync("completions", new { prompt = new[] { "the dog", "a cat" }, max_tokens = 6, temperature = 0 });
        Assert.Equal([ea.Text, eb.Text], strings.Json.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("text").GetString()));
    }

    [Fact]
    public async Task Streaming_equals_whole_and_ends_with_usage_and_done()
    {
        var whole = await Raw.PostAsync("completions", new { prompt = "big tree", max_tokens = 16, temperature = 0 });
        var events = await Raw.StreamAsync("completions", new { prompt = "big tree", max_tokens = 16, temperature = 0, stream = true, stream_options = new { include_usage = true } });
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToArray();
        string text = string.Concat(chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray()).Select(c => c.GetProperty("text").GetString()));
        Assert.Equal(whole.Json.GetProperty("choices")[0].GetProperty("text").GetString(), text);
        var usage = chunks[^1].GetProperty("usage");
        Assert.Equal(whole.Json.GetProperty("usage").GetProperty("total_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32());
        Assert.All(chunks[..^1], c => Assert.False(c.TryGetProperty("usage", out _)));
        // Without include_usage there is no usage chunk.
        var plain = await Raw.StreamAsync("completions", new { prompt = "big tree", max_tokens = 4, temperature = 0, stream = true });
        Assert.All(plain[..^1], e => Assert.False(JsonDocument.Parse(e).RootElement.TryGetProperty("usage", out _)));
    }

    [Fact]
    public async Task Logprobs_layout_matches_the_engine()
    {
        var expected = await Direct(Encode("she said"), 5, logprobs: 2);
        var r = await Raw.PostAsync("completions", new { prompt = "she said", max_tokens = 5, temperature = 0, logprobs = 2 });
        var lp = r.Json.GetProperty("choices")[0].GetProperty("logprobs");
        var values = lp.GetProperty("token_logprobs").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.Equal(expected.Logprobs.Select(l => l.Logprob), values);
        Assert.Equal(values.Length, lp.GetProperty("tokens").GetArrayLength());
        Assert.All(lp.GetProperty("top_logprobs").EnumerateArray(), t => Assert.InRange(t.EnumerateObject().Count(), 1, 2));
        var offsets = lp.GetProperty("text_offset").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(0, offsets[0]);
        Assert.True(offsets.SequenceEqual(offsets.Order()));
    }

    [Fact]
    public async Task Echo_prepends_the_prompt()
    {
        var plain = await Raw.PostAsync("completions", new { prompt = "little girl", max_tokens = 5, temperature = 0 });
        var echoed = await Raw.PostAsync("completions", new { prompt = "little girl", max_tokens = 5, temperature = 0, echo = true });
        Assert.Equal("little girl" + plain.Json.GetProperty("choices")[0].GetProperty("text").GetString(),
            echoed.Json.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Stop_and_penalties_are_applied()
    {
        var free = await Raw.PostAsync("completions", new { prompt = "the sun", max_tokens = 30, temperature = 0, ignore_eos = true });
        string text = free.Json.GetProperty("choices")[0].GetProperty("text").GetString()!;
        string stop = text.Substring(text.Length / 2, 1);
        var stopped = await Raw.PostAsync("completions", new { prompt = "the sun", max_tokens = 30, temperature = 0, ignore_eos = true, stop = new[] { stop } });
        var choice = stopped.Json.GetProperty("choices")[0];
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());

        // A strong repetition penalty changes a greedy answer that repeats tokens.
        var penalized = await Raw.PostAsync("completions", new { prompt = "the sun", max_tokens = 30, temperature = 0, ignore_eos = true, repetition_penalty = 5.0, frequency_penalty = 2.0 });
        Assert.Equal(200, penalized.Status);
        Assert.NotEqual(text, penalized.Json.GetProperty("choices")[0].GetProperty("text").GetString());
    }
}
