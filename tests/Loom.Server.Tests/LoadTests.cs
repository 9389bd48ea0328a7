#pragma warning disable SCME0001 // JsonPatch is marked experimental
using System.ClientModel;
using Loom.Engine;
using Loom.Models;
using OpenAI.Chat;

namespace Loom.Server.Tests;

/// <summary>
/// Bounded load: 200 streamed chat requests, 32 at a time, every fourth leaving after two updates. Every
/// surviving answer must equal its prompt's single-request greedy answer; no request may fail; at the end no
/// KV block is in use. Its own engine, so other tests' traffic does not interfere.
/// </summary>
public sealed class LoadTests : IAsyncLifetime
{
    private LoadedModel _model = null!;
    private LlmEngine _engine = null!;
    private LoomServer _server = null!;

    public async Task InitializeAsync()
    {
        _model = TestModels.LoadChat();
        // Few blocks per sequence budget, so the run also preempts and evicts cached prefixes.
        _engine = new LlmEngine(_model, new EngineOptions { Threads = 1, MaxNumSeqs = 16, MaxNumBatchedTokens = 128, MaxKvTokens = 16 * 48 });
        _server = LoomServer.Create(_engine, new LoomServerOptions { Port = 0, ServedModelName = "tiny" });
        await _server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _engine.Dispose();
        _model.Dispose();
    }

    [Fact]
    public async Task Survivors_match_greedy_answers_and_no_block_leaks()
    {
        var chat = Clients.For(new Uri(_server.BaseAddress, "v1"), "unused").GetChatClient("tiny");
        string[] prompts = Enumerable.Range(0, 10).Select(i => $"story {i}: the {(i % 2 == 0 ? "dog" : "cat")} went to the park").ToArray();
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 24, Temperature = 0 };
        // Leavers ask for a long answer (ignore_eos, a vLLM extension sent through the SDK's JSON patch), so they are
        // certainly still generating when they go.
        var leaverOptions = new ChatCompletionOptions { MaxOutputTokenCount = 400, Temperature = 0 };
        leaverOptions.Patch.Set("$.ignore_eos"u8, true);

        // Single-request answers, one at a time.
        var expected = new string[prompts.Length];
        for (int i = 0; i < prompts.Length; i++)
            expected[i] = (await chat.CompleteChatAsync([new UserChatMessage(prompts[i])], options)).Value.Content.FirstOrDefault()?.Text ?? "";

        long abortedBefore = _engine.Metrics.Aborted;
        var gate = new SemaphoreSlim(32);
        int survivors = 0, left = 0;
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var tasks = Enumerable.Range(0, 200).Select(async k =>
        {
            await gate.WaitAsync();
            try
            {
                int p = k % prompts.Length;
                bool leave = k % 4 == 3;
                var text = new System.Text.StringBuilder();
                int updates = 0;
                await foreach (var u in chat.CompleteChatStreamingAsync([new UserChatMessage(prompts[p])], leave ? leaverOptions : options))
                {
                    foreach (var part in u.ContentUpdate) text.Append(part.Text);
                    if (leave && ++updates == 2) break;
                }
                if (leave) { Interlocked.Increment(ref left); return; }
                Interlocked.Increment(ref survivors);
                if (text.ToString() != expected[p]) failures.Add($"request {k} (prompt {p}): '{text}' != '{expected[p]}'");
            }
            catch (ClientResultException e)
            {
                failures.Add($"request {k}: HTTP {e.Status} {e.Message}");
            }
            finally
            {
                gate.Release();
            }
        }).ToArray();
        await Task.WhenAll(tasks);

        Assert.Empty(failures);
        Assert.Equal(150, survivors);
        Assert.Equal(50, left);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((_engine.PendingRequests > 0 || _engine.Blocks.UsedBlocks > 0) && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(0, _engine.PendingRequests);
        Assert.Equal(0, _engine.Blocks.UsedBlocks);
        _engine.Blocks.CheckConsistency();
        // Leavers close their connection mid-stream. A leaver whose whole answer the (fast, tiny) model finished before
        // the server saw the disconnect ends normally instead, so under load only some are aborted; either way every
        // request ended and freed its blocks (asserted above). The exact abort-on-disconnect path has its own test.
        long aborted = _engine.Metrics.Aborted - abortedBefore;
        Console.Error.WriteLine($"load test: {aborted} of {left} leavers aborted, {_engine.Metrics.Preemptions} preemptions");
        Assert.InRange(aborted, 1, left);
    }
}
