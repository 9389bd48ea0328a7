#pragma warning disable SCME0001 // JsonPatch is marked experimental
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
        long aborted = f.Engine.Metrics.Aborted;
        var chat = f.Client().GetChatClient(ServerFixture.ModelName);
        // ignore_eos (a vLLM extension, sent through the SDK's JSON patch) keeps the request running until it is aborted.
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 900, Temperature = 0 };
        options.Patch.Set("$.ignore_eos"u8, true);
        int seen = 0;
        await foreach (var u in chat.CompleteChatStreamingAsync([new UserChatMessage("go on and on")], options))
        {
            if (++seen == 3) break;
        }
        await WaitIdle();
        Assert.Equal(0, f.Engine.Blocks.UsedBlocks);
        Assert.Equal(0, f.Engine.PendingRequests);
        Assert.Equal(aborted + 1, f.Engine.Metrics.Aborted);
    }
}
