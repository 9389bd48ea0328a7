using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Loom.Server.Tests;

/// <summary>
/// Inputs that once took a request (or the server) down: ids outside the vocabulary, text that is not Unicode,
/// limits that overflow 32-bit arithmetic. Each gets a 400 naming the parameter, and the server keeps serving.
/// </summary>
[Collection("server")]
public sealed class HardeningTests(ServerFixture f)
{
    private SdkRaw Raw => new(f.Client(), f.ApiBase);

    private async Task<(int Status, JsonElement Body)> PostBytesAsync(string path, byte[] body)
    {
        using var http = new HttpClient();
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(f.ApiBase + "/" + path)) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ServerFixture.ApiKey);
        using var response = await http.SendAsync(request);
        return ((int)response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private async Task AssertStillServes()
    {
        var ok = await Raw.PostAsync("completions", new { model = ServerFixture.ModelName, prompt = "Once", max_tokens = 2, temperature = 0 });
        Assert.Equal(200, ok.Status);
        Assert.Equal(0, f.Engine.PendingRequests);
    }

    [Fact]
    public async Task Stop_token_ids_outside_the_vocabulary_are_400_and_free_their_slot()
    {
        int vocab = f.Engine.Model.Config.VocabSize;
        for (int i = 0; i < 50; i++) // more than the waiting queue would survive if each leaked a slot
        {
            var r = await Raw.PostAsync("completions", $"{{\"prompt\":\"x\",\"max_tokens\":2,\"stop_token_ids\":[{vocab}]}}");
            Assert.Equal(400, r.Status);
            Assert.Equal("stop_token_ids", r.Error.GetProperty("param").GetString());
        }
        await AssertStillServes();
    }

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xFE })]            // bytes that are never UTF-8
    [InlineData(new byte[] { 0xC0, 0xAF })]            // an overlong encoding of '/'
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]      // a UTF-8-encoded surrogate
    public async Task Invalid_utf8_in_a_string_is_400(byte[] bad)
    {
        var body = Encoding.ASCII.GetBytes("{\"prompt\":\"a").Concat(bad).Concat(Encoding.ASCII.GetBytes("b\",\"max_tokens\":2}")).ToArray();
        var (status, json) = await PostBytesAsync("completions", body);
        Assert.Equal(400, status);
        Assert.Equal("invalid_request_error", json.GetProperty("error").GetProperty("type").GetString());
        var (chatStatus, _) = await PostBytesAsync("chat/completions",
            Encoding.ASCII.GetBytes("{\"messages\":[{\"role\":\"user\",\"content\":\"a").Concat(bad).Concat(Encoding.ASCII.GetBytes("\"}],\"max_tokens\":2}")).ToArray());
        Assert.Equal(400, chatStatus);
        await AssertStillServes();
    }

    [Theory]
    [InlineData("completions", "{\"prompt\":\"\\ud800\",\"max_tokens\":2}")]
    [InlineData("completions", "{\"prompt\":[\"ok\",\"\\udfff x\"],\"max_tokens\":2}")]
    [InlineData("completions", "{\"prompt\":\"x\",\"stop\":\"\\ud83d\",\"max_tokens\":2}")]
    [InlineData("chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}],\"max_tokens\":2}")]
    public async Task A_lone_surrogate_escape_is_400(string path, string json)
    {
        var r = await Raw.PostAsync(path, json);
        Assert.True(r.Status == 400, r.Body);
        Assert.Equal("invalid_request_error", r.Error.GetProperty("type").GetString());
        await AssertStillServes();
    }

    [Fact]
    public async Task Max_tokens_near_int_max_is_context_length_exceeded()
    {
        var r = await Raw.PostAsync("completions", new { prompt = "Once upon a time", max_tokens = int.MaxValue - 2 });
        Assert.Equal(400, r.Status);
        Assert.Equal("context_length_exceeded", r.Error.GetProperty("code").GetString());
        Assert.Equal("max_tokens", r.Error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task N_above_what_the_engine_runs_names_n()
    {
        var r = await Raw.PostAsync("completions", new { prompt = "x", max_tokens = 2, n = f.Engine.Options.MaxNumSeqs + 1 });
        Assert.Equal(400, r.Status);
        Assert.Equal("n", r.Error.GetProperty("param").GetString());
        await AssertStillServes();
    }
}
