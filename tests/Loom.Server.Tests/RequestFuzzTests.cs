using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Server.Tests;

/// <summary>
/// A time-boxed mutation campaign over request bodies: valid completion and chat requests, mutated at the byte level
/// and with JSON fragments, posted to the running server. Every answer must be a client error (4xx) or a success,
/// never a 5xx and never silence, and the server must end idle with nothing queued.
/// </summary>
[Collection("server")]
public sealed class RequestFuzzTests(ServerFixture f, ITestOutputHelper output)
{
    private static readonly string[] Seeds =
    [
        "{\"model\":\"MODEL\",\"prompt\":\"Once upon\",\"max_tokens\":2,\"temperature\":0.7,\"top_p\":0.9,\"top_k\":5,\"stop\":[\".\"],\"seed\":3,\"logprobs\":2}",
        "{\"prompt\":[[5,6,7],\"text\"],\"max_tokens\":2,\"n\":2,\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
        "{\"model\":\"MODEL\",\"messages\":[{\"role\":\"system\",\"content\":\"x\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}],\"max_tokens\":2,\"logprobs\":true,\"top_logprobs\":2}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_completion_tokens\":2,\"stream\":true,\"min_tokens\":1,\"stop_token_ids\":[2],\"presence_penalty\":0.5}",
    ];

    private static readonly string[] Fragments =
    [
        "null", "true", "false", "-1", "0", "1e309", "-0", "2147483647", "2147483648", "9223372036854775808", "1.5", "\"\"", "[]", "{}",
        "[[]]", "\"\\ud800\"", "\"\\u0000\"", ",", ":", "\"", "{", "}", "[", "]", "\\", "\"n\":", "\"stream\":true,", "\"max_tokens\":",
        "\"logprobs\":", "\"top_logprobs\":21,", "\"stop\":", "\"prompt\":", "\"messages\":", "\"role\":\"tool\",", "\"seed\":-5,",
    ];

    [Fact]
    public async Task MutatedRequestsGetAnAnswerAndNeverAServerError()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var rng = new Random(FuzzBudget.Seed);
        var sw = Stopwatch.StartNew();
        var statuses = new SortedDictionary<int, int>();
        int executed = 0;
        while (sw.Elapsed < FuzzBudget.Box(6) && executed < FuzzBudget.Cap(5000))
        {
            int seed = rng.Next(Seeds.Length);
            var body = Mutate(Encoding.UTF8.GetBytes(Seeds[seed].Replace("MODEL", ServerFixture.ModelName)), rng);
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(f.ApiBase + (seed < 2 ? "/completions" : "/chat/completions"))) { Content = content };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ServerFixture.ApiKey);
            using var response = await http.SendAsync(request);
            string text = await response.Content.ReadAsStringAsync();
            int status = (int)response.StatusCode;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            Assert.True(status < 500, $"mutant {executed} → {status}: {text}\n--- body ---\n{Encoding.UTF8.GetString(body)}");
            executed++;
        }
        output.WriteLine($"requests: {executed} mutants in {sw.Elapsed.TotalSeconds:F1}s; statuses {string.Join(", ", statuses.Select(kv => $"{kv.Key}×{kv.Value}"))}");
        Assert.True(statuses.GetValueOrDefault(200) > 0 && statuses.GetValueOrDefault(400) > 0, "the campaign should reach both outcomes");
        for (int i = 0; i < 100 && f.Engine.PendingRequests > 0; i++) await Task.Delay(50);
        Assert.Equal(0, f.Engine.PendingRequests);
    }

    private static byte[] Mutate(byte[] seed, Random rng)
    {
        var b = new List<byte>(seed);
        for (int edits = 1 + rng.Next(3); edits > 0; edits--)
        {
            int at = rng.Next(b.Count + 1);
            switch (rng.Next(4))
            {
                case 0: b.InsertRange(at, Encoding.UTF8.GetBytes(Fragments[rng.Next(Fragments.Length)])); break;
                case 1: if (at < b.Count) b.RemoveRange(at, Math.Min(b.Count - at, 1 + rng.Next(6))); break;
                case 2: if (at < b.Count) b[at] = (byte)rng.Next(256); break;
                default: if (at < b.Count && char.IsAsciiDigit((char)b[at])) b.InsertRange(at, Encoding.ASCII.GetBytes(rng.Next(10).ToString())); break;
            }
        }
        return b.ToArray();
    }
}
