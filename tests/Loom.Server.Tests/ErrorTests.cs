using System.ClientModel;
using Loom.Engine;
using OpenAI.Chat;

namespace Loom.Server.Tests;

/// <summary>Every error status in OpenAI's shape, seen through the SDK.</summary>
[Collection("server")]
public sealed class ErrorTests(ServerFixture f)
{
    private SdkRaw Raw => new(f.Client(), f.ApiBase);

    private static void AssertError(SdkRaw.Reply r, int status, string? param, string? code = null)
    {
        Assert.Equal(status, r.Status);
        var e = r.Error;
        Assert.False(string.IsNullOrWhiteSpace(e.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(e.GetProperty("type").GetString()));
        if (param is not null) Assert.Equal(param, e.GetProperty("param").GetString());
        if (code is not null) Assert.Equal(code, e.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Malformed_json_is_400()
    {
        AssertError(await Raw.PostAsync("completions", "{\"prompt\": \"x\", "), 400, null, "invalid_json");
        AssertError(await Raw.PostAsync("chat/completions", "not json"), 400, null, "invalid_json");
        AssertError(await Raw.PostAsync("completions", ""), 400, null);
        // Through the SDK's typed protocol method: the SDK raises its exception with the status.
        var chat = f.Client().GetChatClient(ServerFixture.ModelName);
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync(BinaryContent.Create(BinaryData.FromString("{oops"))));
        Assert.Equal(400, ex.Status);
    }

    [Fact]
    public async Task Unknown_model_is_404()
    {
        AssertError(await Raw.PostAsync("completions", new { model = "gpt-4", prompt = "x" }), 404, "model", "model_not_found");
        var chat = f.Client().GetChatClient("gpt-4");
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, ex.Status);
        Assert.Contains("gpt-4", ex.Message);
    }

    [Fact]
    public async Task Wrong_types_are_400_naming_the_parameter()
    {
        AssertError(await Raw.PostAsync("completions", "{\"prompt\":\"x\",\"temperature\":\"hot\"}"), 400, "temperature");
        AssertError(await Raw.PostAsync("completions", "{\"prompt\":\"x\",\"max_tokens\":1.5}"), 400, "max_tokens");
        AssertError(await Raw.PostAsync("completions", "{\"prompt\":{\"a\":1}}"), 400, "prompt");
        AssertError(await Raw.PostAsync("completions", "{\"prompt\":[\"a\",1]}"), 400, "prompt");
        AssertError(await Raw.PostAsync("completions", "{\"prompt\":\"x\",\"stop\":5}"), 400, "stop");
        AssertError(await Raw.PostAsync("chat/completions", "{\"messages\":\"hi\"}"), 400, "messages");
        AssertError(await Raw.PostAsync("completions", "{}"), 400, "prompt");
        AssertError(await Raw.PostAsync("chat/completions", "{\"messages\":[]}"), 400, "messages");
    }

    [Theory]
    [InlineData("{\"prompt\":\"x\",\"temperature\":-1}", "temperature")]
    [InlineData("{\"prompt\":\"x\",\"top_p\":1.5}", "top_p")]
    [InlineData("{\"prompt\":\"x\",\"top_k\":-2}", "top_k")]
    [InlineData("{\"prompt\":\"x\",\"min_p\":2}", "min_p")]
    [InlineData("{\"prompt\":\"x\",\"n\":0}", "n")]
    [InlineData("{\"prompt\":\"x\",\"max_tokens\":0}", "max_tokens")]
    [InlineData("{\"prompt\":\"x\",\"logprobs\":21}", "logprobs")]
    [InlineData("{\"prompt\":\"x\",\"presence_penalty\":3}", "presence_penalty")]
    [InlineData("{\"prompt\":\"x\",\"frequency_penalty\":-3}", "frequency_penalty")]
    [InlineData("{\"prompt\":\"x\",\"repetition_penalty\":0}", "repetition_penalty")]
    [InlineData("{\"prompt\":\"x\",\"stop\":[\"\"]}", "stop")]
    [InlineData("{\"prompt\":[99999]}", "prompt")]
    public async Task Out_of_range_values_are_400(string body, string param) =>
        AssertError(await Raw.PostAsync("completions", body), 400, param);

    [Fact]
    public async Task Chat_out_of_range_logprobs_are_400()
    {
        AssertError(await Raw.PostAsync("chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logprobs\":true,\"top_logprobs\":30}"), 400, "top_logprobs");
        AssertError(await Raw.PostAsync("chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_completion_tokens\":0}"), 400, "max_completion_tokens");
    }

    [Fact]
    public async Task Prompt_plus_max_tokens_beyond_the_context_is_400()
    {
        int context = f.Engine.Model.Config.ContextLength;
        AssertError(await Raw.PostAsync("completions", new { prompt = "the", max_tokens = context }), 400, "max_tokens", "context_length_exceeded");
        AssertError(await Raw.PostAsync("completions", new { prompt = Enumerable.Repeat(5, context).ToArray(), max_tokens = 1 }), 400, "prompt", "context_length_exceeded");
        var chat = f.Client().GetChatClient(ServerFixture.ModelName);
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = context }));
        Assert.Equal(400, ex.Status);
    }

    [Fact]
    public async Task Missing_or_wrong_api_key_is_401()
    {
        var wrong = f.Client("not-the-key");
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => wrong.GetChatClient(ServerFixture.ModelName).CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(401, ex.Status);
        var ex2 = await Assert.ThrowsAsync<ClientResultException>(() => wrong.GetOpenAIModelClient().GetModelsAsync());
        Assert.Equal(401, ex2.Status);
        AssertError(await new SdkRaw(wrong, f.ApiBase).PostAsync("completions", new { prompt = "x" }), 401, null, "invalid_api_key");

        using var http = new HttpClient();
        var none = await http.PostAsync(new Uri(f.ApiBase + "/completions"), new StringContent("{\"prompt\":\"x\"}"));
        Assert.Equal(401, (int)none.StatusCode);
        // Probes stay open.
        Assert.Equal(200, (int)(await http.GetAsync(new Uri(f.Server.BaseAddress, "health"))).StatusCode);
    }

    [Fact]
    public async Task Oversized_body_is_413()
    {
        string big = new('a', (int)ServerFixture.BodyLimit + 1000);
        AssertError(await Raw.PostAsync("completions", new { prompt = big }), 413, null, "request_too_large");
        var chat = f.Client().GetChatClient(ServerFixture.ModelName);
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage(big)]));
        Assert.Equal(413, ex.Status);
    }

    [Fact]
    public async Task Chat_without_a_template_is_400()
    {
        using var model = TestModels.LoadPlain();
        using var engine = new LlmEngine(model, new EngineOptions { Threads = 1 });
        await using var server = LoomServer.Create(engine, new LoomServerOptions { Port = 0 });
        await server.StartAsync();
        var client = Clients.For(new Uri(server.BaseAddress, "v1"), "unused");
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => client.GetChatClient(server.ServedModelName).CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(400, ex.Status);
        Assert.Contains("chat template", ex.Message);
        // Completions still work on it.
        var ok = await new SdkRaw(client, new Uri(server.BaseAddress, "v1")).PostAsync("completions", new { prompt = "x", max_tokens = 2 });
        Assert.Equal(200, ok.Status);
    }

    [Fact]
    public async Task Full_waiting_queue_is_429_with_retry_after()
    {
        using var model = TestModels.LoadChat();
        // One running sequence, nobody may wait: concurrent long requests overflow at once.
        using var engine = new LlmEngine(model, new EngineOptions { Threads = 1, MaxNumSeqs = 1, MaxWaiting = 0 });
        await using var server = LoomServer.Create(engine, new LoomServerOptions { Port = 0 });
        await server.StartAsync();
        var raw = new SdkRaw(Clients.For(new Uri(server.BaseAddress, "v1"), "unused"), new Uri(server.BaseAddress, "v1"));
        var replies = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ =>
            raw.PostAsync("completions", new { prompt = "wait", max_tokens = 400, ignore_eos = true, temperature = 0 })));
        Assert.Contains(replies, r => r.Status == 200);
        var refused = replies.Where(r => r.Status != 200).ToArray();
        Assert.NotEmpty(refused);
        foreach (var r in refused)
        {
            AssertError(r, 429, null, "queue_full");
            Assert.True(int.Parse(r.Headers["Retry-After"]) >= 1);
        }
        // While one stream holds the only slot, the SDK's typed call is refused too.
        using (var holder = await raw.OpenStreamAsync("completions", new { prompt = "hold", max_tokens = 1000, ignore_eos = true, stream = true }))
        {
            Assert.NotNull(await holder.ReadEventAsync());
            var chat = Clients.For(new Uri(server.BaseAddress, "v1"), "unused").GetChatClient(server.ServedModelName);
            var ex = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 2 }));
            Assert.Equal(429, ex.Status);
        }
    }
}
