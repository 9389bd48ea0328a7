using System.Text.Json;
using OpenAI.Chat;

namespace Loom.Server.Tests;

/// <summary>/v1/models, /health, /metrics, /tokenize and /detokenize.</summary>
[Collection("server")]
public sealed class UtilityEndpointTests(ServerFixture f)
{
    [Fact]
    public async Task Models_lists_the_served_name()
    {
        var models = f.Client().GetOpenAIModelClient();
        var list = (await models.GetModelsAsync()).Value;
        Assert.Equal(ServerFixture.ModelName, Assert.Single(list).Id);
        var one = (await models.GetModelAsync(ServerFixture.ModelName)).Value;
        Assert.Equal(ServerFixture.ModelName, one.Id);
        Assert.Equal("loom", one.OwnedBy);
    }

    [Fact]
    public async Task Tokenize_and_detokenize_round_trip()
    {
        var raw = new SdkRaw(f.Client(), f.ApiBase);
        var tok = await raw.PostAsync("/tokenize", new { prompt = "the little dog" });
        Assert.Equal(200, tok.Status);
        var ids = tok.Json.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(f.Engine.Model.Tokenizer.Encode("the little dog", addSpecial: true, parseSpecial: true), ids);
        Assert.Equal(ids.Length, tok.Json.GetProperty("count").GetInt32());
        Assert.Equal(f.Engine.Model.Config.ContextLength, tok.Json.GetProperty("max_model_len").GetInt32());
        // Without the BOS the text comes back as typed; with it, as the tokenizer decodes it.
        Assert.Equal(f.Engine.Model.Tokenizer.BosId, ids[0]);
        var detok = await raw.PostAsync("/detokenize", new { tokens = ids[1..] });
        Assert.Equal("the little dog", detok.Json.GetProperty("prompt").GetString());
        var withBos = await raw.PostAsync("/detokenize", new { tokens = ids });
        Assert.Equal(f.Engine.Model.Tokenizer.Decode(ids), withBos.Json.GetProperty("prompt").GetString());

        var chat = await raw.PostAsync("/tokenize", new { messages = new[] { new { role = "user", content = "hi" } } });
        // The template's text, tokenized with special tokens parsed and no second BOS.
        Assert.Equal(f.Engine.Model.Tokenizer.Encode("<s><|user|>hi\n<|assistant|>", addSpecial: false, parseSpecial: true),
            chat.Json.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(400, (await raw.PostAsync("/detokenize", new { tokens = new[] { -1 } })).Status);
    }

    [Fact]
    public async Task Health_answers_ok()
    {
        using var http = new HttpClient();
        var r = await http.GetAsync(new Uri(f.Server.BaseAddress, "health"));
        string body = await r.Content.ReadAsStringAsync();
        Assert.True(200 == (int)r.StatusCode, body);
        Assert.Equal("ok", JsonDocument.Parse(body).RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Metrics_count_tokens_and_requests_in_prometheus_text()
    {
        using var http = new HttpClient();
        async Task<Dictionary<string, double>> Scrape()
        {
            var r = await http.GetAsync(new Uri(f.Server.BaseAddress, "metrics"));
            Assert.StartsWith("text/plain", r.Content.Headers.ContentType!.ToString());
            return Prometheus.Parse(await r.Content.ReadAsStringAsync());
        }
        var before = await Scrape();
        var c = await f.Client().GetChatClient(ServerFixture.ModelName).CompleteChatAsync([new UserChatMessage("count me")],
            new ChatCompletionOptions { MaxOutputTokenCount = 5, Temperature = 0 });
        var after = await Scrape();
        Assert.Equal(c.Value.Usage.OutputTokenCount, after["loom_generation_tokens_total"] - before["loom_generation_tokens_total"]);
        Assert.True(after["loom_prompt_tokens_total"] - before["loom_prompt_tokens_total"] >= 1);
        Assert.Equal(1, after["loom_requests_finished_total"] - before["loom_requests_finished_total"]);
        Assert.Equal(1, after["loom_e2e_request_latency_seconds_count"] - before["loom_e2e_request_latency_seconds_count"]);
        Assert.Equal(1, after["loom_time_to_first_token_seconds_count"] - before["loom_time_to_first_token_seconds_count"]);
        Assert.Equal(after["loom_e2e_request_latency_seconds_count"], after["loom_e2e_request_latency_seconds_bucket{le=\"+Inf\"}"]);
        foreach (var name in new[] { "loom_requests_running", "loom_requests_waiting", "loom_kv_blocks_used", "loom_kv_blocks_cached",
                     "loom_kv_blocks_free", "loom_prefix_cache_hit_rate", "loom_preemptions_total", "loom_requests_aborted_total", "loom_time_per_output_token_seconds_count" })
            Assert.True(after.ContainsKey(name), name);
        Assert.Equal(f.Engine.Blocks.NumBlocks, after["loom_kv_blocks_used"] + after["loom_kv_blocks_cached"] + after["loom_kv_blocks_free"]);
        // The kernel tier as an info gauge, the one labelled series.
        Assert.Equal(1, after[$"loom_kernels_info{{kernels=\"{Loom.Core.Kernels.KernelTier.Name}\"}}"]);
    }
}

/// <summary>Reads Prometheus text: "name{labels} value" lines, comments skipped.</summary>
internal static class Prometheus
{
    public static Dictionary<string, double> Parse(string text)
    {
        var values = new Dictionary<string, double>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int space = line.LastIndexOf(' ');
            values[line[..space]] = line[(space + 1)..] == "+Inf" ? double.PositiveInfinity : double.Parse(line[(space + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }
        return values;
    }
}
