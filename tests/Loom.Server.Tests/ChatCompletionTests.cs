using Loom.Server.Chat;
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
using System.ClientModel;
using System.Text.Json;
using Loom.Engine;
using Loom.Engine.Sampling;
using Loom.Models.ChatTemplates;
using OpenAI.Chat;
using ChatMessage = OpenAI.Chat.ChatMessage;

namespace Loom.Server.Tests;

[Collection("server")]
public sealed class ChatCompletionTests(ServerFixture f)
{
    private ChatClient Chat => f.Client().GetChatClient(ServerFixture.ModelName);

    private static ChatMessage[] Conversation(string text) => [new SystemChatMessage("be brief"), new UserChatMessage(text)];

    /// <summary>The engine's own greedy answer for the same rendered conversation.</summary>
    private async Task<GenerationChoice> Direct(string text, int maxTokens, int? logprobs = null)
    {
        var prompt = new ChatPrompt(f.Engine.Model.Tokenizer).Encode([new("system", "be brief"), new("user", text)]);
        var r = f.Engine.AddRequest(prompt, SamplingParams.Greedy(maxTokens) with { Logprobs = logprobs });
        return (await GenerationResult.CollectAsync(r)).Choices[0];
    }

    [Fact]
    public async Task Greedy_answer_equals_the_engine_and_counts_usage()
    {
        var expected = await Direct("tell me a story", 12);
        ChatCompletion c = await Chat.CompleteChatAsync(Conversation("tell me a story"), new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 });
        Assert.Equal(expected.Text, c.Content.Count == 0 ? "" : c.Content[0].Text);
        Assert.Equal(expected.FinishReason == FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop, c.FinishReason);
        int promptTokens = new ChatPrompt(f.Engine.Model.Tokenizer).Encode([new("system", "be brief"), new("user", "tell me a story")]).Length;
        Assert.Equal(promptTokens, c.Usage.InputTokenCount);
        Assert.Equal(expected.TokenIds.Length, c.Usage.OutputTokenCount);
        Assert.Equal(ServerFixture.ModelName, c.Model);
        Assert.StartsWith("chatcmpl-", c.Id);
    }

    [Fact]
    public async Task Streaming_concatenates_to_the_whole_answer_with_usage_last()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 20, Temperature = 0 };
        ChatCompletion whole = await Chat.CompleteChatAsync(Conversation("a cat"), options);
        var text = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        int updates = 0;
        await foreach (var u in Chat.CompleteChatStreamingAsync(Conversation("a cat"), options))
        {
            updates++;
            foreach (var part in u.ContentUpdate) text.Append(part.Text);
            finish ??= u.FinishReason;
            usage ??= u.Usage;
        }
        Assert.True(updates > 2);
        Assert.Equal(whole.Content.Count == 0 ? "" : whole.Content[0].Text, text.ToString());
        Assert.Equal(whole.FinishReason, finish);
        Assert.NotNull(usage); // the SDK asks for stream_options.include_usage
        Assert.Equal(whole.Usage.OutputTokenCount, usage!.OutputTokenCount);
        Assert.Equal(whole.Usage.InputTokenCount, usage.InputTokenCount);
    }

    [Fact]
    public async Task Logprobs_are_the_engines_raw_logit_log_probabilities()
    {
        var expected = await Direct("numbers", 8, logprobs: 3);
        ChatCompletion c = await Chat.CompleteChatAsync(Conversation("numbers"),
            new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 });
        var lps = c.ContentTokenLogProbabilities;
        Assert.Equal(expected.Logprobs.Count, lps.Count);
        for (int i = 0; i < lps.Count; i++)
        {
            Assert.Equal(expected.Logprobs[i].Logprob, lps[i].LogProbability, 1e-6f);
            Assert.Equal(3, lps[i].TopLogProbabilities.Count);
            for (int k = 0; k < 3; k++) Assert.Equal(expected.Logprobs[i].Top[k].Logprob, lps[i].TopLogProbabilities[k].LogProbability, 1e-6f);
            // Greedy picks the most likely token, so its log-probability is the top one; all are log-probabilities.
            Assert.Equal(lps[i].TopLogProbabilities[0].LogProbability, lps[i].LogProbability, 1e-6f);
            Assert.True(lps[i].TopLogProbabilities.Sum(t => Math.Exp(t.LogProbability)) <= 1.0001);
            Assert.True(lps[i].TopLogProbabilities[0].LogProbability >= lps[i].TopLogProbabilities[2].LogProbability);
        }
    }

    [Fact]
    public async Task Stop_string_cuts_the_answer_before_it()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 40, Temperature = 0 };
        ChatCompletion free = await Chat.CompleteChatAsync(Conversation("stop test"), options);
        string text = free.Content[0].Text;
        Assert.True(text.Length >= 6, $"need a longer answer to cut: '{text}'");
        string stop = text.Substring(text.Length / 2, 2);
        int cut = text.IndexOf(stop, StringComparison.Ordinal);
        options.StopSequences.Add(stop);
        ChatCompletion stopped = await Chat.CompleteChatAsync(Conversation("stop test"), options);
        Assert.Equal(text[..cut], stopped.Content.Count == 0 ? "" : stopped.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
    }

    [Fact]
    public async Task Same_seed_same_answer_other_seed_other_answer()
    {
        async Task<string> Sample(long seed) => (await Chat.CompleteChatAsync(Conversation("random"),
            new ChatCompletionOptions { MaxOutputTokenCount = 24, Temperature = 1f, Seed = seed })).Value.Content.FirstOrDefault()?.Text ?? "";
        string a = await Sample(42), b = await Sample(42), c = await Sample(43);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public async Task N_choices_through_the_protocol_method()
    {
        var body = new { model = ServerFixture.ModelName, messages = new[] { new { role = "user", content = "many" } }, n = 3, max_tokens = 10, temperature = 1.0, seed = 5 };
        ClientResult result = await Chat.CompleteChatAsync(BinaryContent.Create(BinaryData.FromObjectAsJson(body)));
        var json = JsonDocument.Parse(result.GetRawResponse().Content.ToString()).RootElement;
        var choices = json.GetProperty("choices").EnumerateArray().ToArray();
        Assert.Equal([0, 1, 2], choices.Select(c => c.GetProperty("index").GetInt32()));
        var texts = choices.Select(c => c.GetProperty("message").GetProperty("content").GetString()).ToArray();
        Assert.True(texts.Distinct().Count() > 1, "three sampled choices should not all agree");
        // Each choice follows its own seeded stream: the same request gives the same three answers.
        ClientResult again = await Chat.CompleteChatAsync(BinaryContent.Create(BinaryData.FromObjectAsJson(body)));
        var againTexts = JsonDocument.Parse(again.GetRawResponse().Content.ToString()).RootElement.GetProperty("choices").EnumerateArray()
            .Select(c => c.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(texts, againTexts);
        var usage = json.GetProperty("usage");
        Assert.True(usage.GetProperty("completion_tokens").GetInt32() >= 3);
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task N_choices_stream_with_their_indices()
    {
        var raw = new SdkRaw(f.Client(), f.ApiBase);
        var events = await raw.StreamAsync("chat/completions", new
        {
            messages = new[] { new { role = "user", content = "two" } }, n = 2, max_tokens = 6, temperature = 0, stream = true,
            stream_options = new { include_usage = true },
        });
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToArray();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        var texts = new string[2];
        foreach (var c in chunks)
            foreach (var choice in c.GetProperty("choices").EnumerateArray())
                if (choice.GetProperty("delta").TryGetProperty("content", out var content))
                    texts[choice.GetProperty("index").GetInt32()] += content.GetString();
        // Greedy: both choices are the same text.
        Assert.Equal(texts[0], texts[1]);
        Assert.True(chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32() >= 2);
        Assert.Empty(chunks[^1].GetProperty("choices").EnumerateArray());
    }
}
