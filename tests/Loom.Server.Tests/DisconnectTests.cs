using OpenAI.Chat;

namespace Loom.Server.Tests;

/// <summary>A client that leaves mid-stream aborts its request, and its KV blocks are freed.</summary>
[Collection("server")]
public sealed class DisconnectTests(ServerFixture f)
{
    private async Task WaitIdle()
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while ((f.Engine.PendingRequests > 0 || f.Engine.Blocks.UsedBlocks > 0) && DateTime.UtcNow < deadline) await Task.Delay(5);
    }

    [Fact]
    public async Task Leaving_a_completion_stream_aborts_and_frees_blocks()
    {
        await WaitIdle();
        long aborted = f.Engine.Metrics.Aborted;
        var raw = new SdkRaw(f.Client(), f.ApiBase);
        using (var stream = await raw.OpenStreamAsync("completions", new { prompt = "a long one", max_tokens = 1000, ignore_eos = true, stream = true }))
        {
            Assert.NotNull(await stream.ReadEventAsync());
            Assert.NotNull(await stream.ReadEventAsync());
            Assert.True(f.Engine.Blocks.UsedBlocks > 0);
        }
        await WaitIdle();
        Assert.Equal(0, f.Engine.PendingRequests);
        Assert.Equal(0, f.Engine.Blocks.UsedBlocks);
        // Aborted, not run to its 1000 tokens.
        Assert.Equal(aborted + 1, f.Engine.Metrics.Aborted);
        f.Engine.Blocks.CheckConsistency();
    }

    [Fact]
    public async Task Breaking_out_of_an_sdk_chat_stream_aborts()
    {
        await WaitIdle();
        // The typed SDK call cannot send ignore_eos, so use a conversation whose greedy answer is known to be long.
        var prompt = new ChatPrompt(f.Engine.Model.Tokenizer).Encode([new("user", "go on and on")]);
        var reference = await Engine.GenerationResult.CollectAsync(f.Engine.AddRequest(prompt, Engine.Sampling.SamplingParams.Greedy(100)));
        Assert.True(reference.Choices[0].TokenIds.Length > 80, "the test needs a prompt whose greedy answer is long");
        long aborted = f.Engine.Metrics.Aborted;
        var chat = f.Client().GetChatClient(ServerFixture.ModelName);
        int seen = 0;
        await foreach (var u in chat.CompleteChatStreamingAsync([new UserChatMessage("go on and on")], new ChatCompletionOptions { MaxOutputTokenCount = 100, Temperature = 0 }))
        {
            if (++seen == 3) break;
        }
        await WaitIdle();
        Assert.Equal(0, f.Engine.Blocks.UsedBlocks);
        Assert.Equal(0, f.Engine.PendingRequests);
        Assert.Equal(aborted + 1, f.Engine.Metrics.Aborted);
    }
}
