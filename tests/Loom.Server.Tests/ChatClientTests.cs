using Loom.Server.InProcess;
using System.Text;
using Loom.Engine;
using Loom.Models;
using Microsoft.Extensions.AI;

namespace Loom.Server.Tests;

/// <summary>The in-process <see cref="IChatClient"/> gives the same answers as the HTTP server.</summary>
[Collection("server")]
public sealed class ChatClientTests(ServerFixture f)
{
    [Fact]
    public async Task Matches_the_http_answer_whole_and_streamed()
    {
        IChatClient client = new LoomChatClient(f.Engine, "tiny");
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 12 };
        List<ChatMessage> messages = [new(ChatRole.System, "be brief"), new(ChatRole.User, "hello there")];
        var response = await client.GetResponseAsync(messages, options);

        var http = await f.Client().GetChatClient(ServerFixture.ModelName).CompleteChatAsync(
            [new OpenAI.Chat.SystemChatMessage("be brief"), new OpenAI.Chat.UserChatMessage("hello there")],
            new OpenAI.Chat.ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 });
        Assert.Equal(http.Value.Content.FirstOrDefault()?.Text ?? "", response.Text);
        Assert.Equal(http.Value.Usage.OutputTokenCount, (int)response.Usage!.OutputTokenCount!);
        Assert.Equal(http.Value.Usage.InputTokenCount, (int)response.Usage.InputTokenCount!);
        Assert.Equal("tiny", response.ModelId);

        var streamed = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var u in client.GetStreamingResponseAsync(messages, options))
        {
            streamed.Append(u.Text);
            finish ??= u.FinishReason;
        }
        Assert.Equal(response.Text, streamed.ToString());
        Assert.Equal(response.FinishReason, finish);
        Assert.Equal("loom", client.GetService<ChatClientMetadata>()!.ProviderName);
    }

    [Fact]
    public async Task Cancelling_a_stream_aborts_the_request()
    {
        IChatClient client = new LoomChatClient(f.Engine);
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "go on and on")], new ChatOptions { Temperature = 0, MaxOutputTokens = 300 }, cts.Token))
                if (++seen == 2) cts.Cancel();
        });
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (f.Engine.Blocks.UsedBlocks > 0 && DateTime.UtcNow < deadline) await Task.Delay(5);
        Assert.Equal(0, f.Engine.Blocks.UsedBlocks);
    }
}
