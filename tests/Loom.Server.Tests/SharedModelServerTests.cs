using Loom.Engine;
using Loom.Engine.Sampling;
using Loom.Models;
using Loom.Tests;
using OpenAI.Chat;

namespace Loom.Server.Tests;

/// <summary>The server over a real trained model (the one the repository ships), with a chat template given to the server.</summary>
public sealed class SharedModelServerTests
{
    [Fact]
    public async Task Stories260K_completion_and_templated_chat_equal_the_engine()
    {
        using var model = ModelLoader.Load(RepoModels.Stories260K);
        Assert.Null(model.ChatTemplate);
        using var engine = new LlmEngine(model, new EngineOptions { Threads = 1, MaxNumSeqs = 4 });
        const string template = "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% endif %}{% endfor %}";
        await using var server = LoomServer.Create(engine, new LoomServerOptions { Port = 0, ServedModelName = "stories", ChatTemplate = template });
        await server.StartAsync();
        var api = new Uri(server.BaseAddress, "v1");
        var client = Clients.For(api, "unused");

        var prompt = model.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: true);
        var expected = (await GenerationResult.CollectAsync(engine.AddRequest(prompt, SamplingParams.Greedy(24)))).Choices[0].Text;
        var r = await new SdkRaw(client, api).PostAsync("completions", new { model = "stories", prompt = "Once upon a time", max_tokens = 24, temperature = 0 });
        Assert.Equal(expected, r.Json.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Contains("Lily", expected); // a trained model: real words, not noise

        // The template renders "<s>" + the user text, so chat equals a completion of the same text.
        ChatCompletion chat = await client.GetChatClient("stories").CompleteChatAsync([new UserChatMessage("Once upon a time")],
            new ChatCompletionOptions { MaxOutputTokenCount = 24, Temperature = 0 });
        var chatPrompt = model.Tokenizer.Encode("<s>Once upon a time", addSpecial: false, parseSpecial: true);
        var chatExpected = (await GenerationResult.CollectAsync(engine.AddRequest(chatPrompt, SamplingParams.Greedy(24)))).Choices[0].Text;
        Assert.Equal(chatExpected, chat.Content[0].Text);
    }
}
