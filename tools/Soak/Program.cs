// Soak test for `loom serve` (loopback only, bounded in time):
//   dotnet run -c Release --project tools/Soak -- --base-url http://127.0.0.1:8080 --minutes 10 --clients 32 [--server-pid PID]
// Each client loops over a random mix of: greedy completions (checked against the answer the same prompt gets alone,
// taken before the soak starts), streamed chat, malformed JSON, ids outside the vocabulary, invalid UTF-8, lone
// surrogates, overflowing max_tokens, unknown models, and streams abandoned after their first event. Every request must
// get an answer (any status; 429 under overload is expected) within its timeout. At the end the server must be idle
// with no KV block in use, and its RSS is reported at start and end. Exit code 1 on any unanswered request, wrong
// greedy answer, server-side 5xx, or leak.
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

var opts = Args.Parse(args);
var baseUrl = new Uri(opts.Get("--base-url", "http://127.0.0.1:8080").TrimEnd('/') + "/");
if (!baseUrl.IsLoopback) { Console.Error.WriteLine("soak: only loopback servers"); return 2; }
var minutes = double.Parse(opts.Get("--minutes", "10"), System.Globalization.CultureInfo.InvariantCulture);
int clients = int.Parse(opts.Get("--clients", "32"));
int? pid = opts.Has("--server-pid") ? int.Parse(opts.Get("--server-pid", "0")) : null;
using var http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(120) };

var models = JsonDocument.Parse(await http.GetStringAsync("v1/models")).RootElement.GetProperty("data")[0];
string model = models.GetProperty("id").GetString()!;
int vocab = int.Parse(opts.Get("--vocab", "512"));
string[] prompts = ["Once upon a time", "The little dog", "Lily and Tom went to the park", "One day, the sun", "The cat sat", "Tom had a big red ball", "She liked to play", "The bird flew"];
var reference = new Dictionary<string, string>();
foreach (var p in prompts) reference[p] = await Complete(p);
long rssStart = Rss(pid);
Console.WriteLine($"soak: {clients} clients for {minutes} min against {baseUrl} ({model}); RSS at start {rssStart / 1024} MiB");

var counts = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
void Count(string key) => counts.AddOrUpdate(key, 1, (_, v) => v + 1);
var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
var deadline = Stopwatch.StartNew();
var workers = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
{
    var rng = new Random(c);
    while (deadline.Elapsed.TotalMinutes < minutes)
    {
        string kind = Kinds[rng.Next(Kinds.Length)];
        try
        {
            int status = await Run(kind, rng);
            Count($"{kind} {status}");
            if (status >= 500) failures.Enqueue($"{kind}: {status}");
        }
        catch (TaskCanceledException) { failures.Enqueue($"{kind}: no answer within {http.Timeout.TotalSeconds} s"); Count($"{kind} unanswered"); }
        catch (Exception e) { failures.Enqueue($"{kind}: {e.GetType().Name}: {e.Message}"); Count($"{kind} error"); }
    }
})).ToArray();
await Task.WhenAll(workers);

// Give the engine a moment to notice the last disconnects, then it must be idle with nothing held.
Dictionary<string, double> metrics = [];
for (int i = 0; i < 50; i++)
{
    metrics = Metrics(await http.GetStringAsync("metrics"));
    if (metrics["loom_requests_running"] == 0 && metrics["loom_requests_waiting"] == 0 && metrics["loom_kv_blocks_used"] == 0) break;
    await Task.Delay(200);
}
long rssEnd = Rss(pid);
foreach (var (k, v) in counts.OrderBy(kv => kv.Key)) Console.WriteLine($"  {k,-28} {v,8}");
Console.WriteLine($"requests: {counts.Values.Sum()}, unanswered: {counts.Where(kv => kv.Key.EndsWith("unanswered")).Sum(kv => kv.Value)}, failures: {failures.Count}");
Console.WriteLine($"after: running {metrics["loom_requests_running"]}, waiting {metrics["loom_requests_waiting"]}, kv blocks used {metrics["loom_kv_blocks_used"]}");
if (pid is not null) Console.WriteLine($"RSS: {rssStart / 1024} MiB at start, {rssEnd / 1024} MiB at end");
foreach (var f in failures.Distinct().Take(20)) Console.WriteLine($"  FAIL {f}");
bool leaked = metrics["loom_requests_running"] != 0 || metrics["loom_requests_waiting"] != 0 || metrics["loom_kv_blocks_used"] != 0;
return failures.IsEmpty && !leaked ? 0 : 1;

async Task<int> Run(string kind, Random rng)
{
    string p = prompts[rng.Next(prompts.Length)];
    switch (kind)
    {
        case "greedy":
        {
            using var r = await Post("v1/completions", Body(new { model, prompt = p, max_tokens = 16, temperature = 0, ignore_eos = true }));
            if (r.IsSuccessStatusCode)
            {
                var text = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("text").GetString();
                if (text != reference[p]) failures.Enqueue($"greedy '{p}': '{text}' differs from its single-request answer '{reference[p]}'");
            }
            return (int)r.StatusCode;
        }
        case "stream":
        {
            using var r = await Post("v1/chat/completions", Body(new { model, messages = new[] { new { role = "user", content = p } }, max_tokens = 12, stream = true, temperature = 0.8, seed = rng.Next() }));
            if (r.IsSuccessStatusCode && !(await r.Content.ReadAsStringAsync()).TrimEnd().EndsWith("data: [DONE]")) failures.Enqueue("stream ended without [DONE]");
            return (int)r.StatusCode;
        }
        case "disconnect":
        {
            using var cts = new CancellationTokenSource();
            using var req = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = Body(new { model, prompt = p, max_tokens = 64, stream = true, ignore_eos = true }) };
            using var r = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            if (r.IsSuccessStatusCode)
            {
                using var s = await r.Content.ReadAsStreamAsync(cts.Token);
                await s.ReadAsync(new byte[64], cts.Token);
                cts.Cancel(); // leave mid-stream
            }
            return (int)r.StatusCode;
        }
        case "malformed": return await Status("v1/completions", Encoding.UTF8.GetBytes("{\"prompt\": \"x\", "));
        case "bad-token": return await Status("v1/completions", Encoding.UTF8.GetBytes($"{{\"prompt\":\"x\",\"max_tokens\":2,\"stop_token_ids\":[{vocab}]}}"));
        case "bad-prompt-id": return await Status("v1/completions", Encoding.UTF8.GetBytes($"{{\"prompt\":[1,{vocab + rng.Next(1000)}],\"max_tokens\":2}}"));
        case "bad-utf8": return await Status("v1/completions", [.. "{\"prompt\":\"a"u8, 0xC0, 0xAF, .. "\",\"max_tokens\":2}"u8]);
        case "surrogate": return await Status("v1/chat/completions", Encoding.UTF8.GetBytes("{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}],\"max_tokens\":2}"));
        case "huge-max": return await Status("v1/completions", Encoding.UTF8.GetBytes($"{{\"prompt\":\"x\",\"max_tokens\":{int.MaxValue - 1}}}"));
        case "unknown-model": return await Status("v1/completions", Encoding.UTF8.GetBytes("{\"model\":\"gpt-4\",\"prompt\":\"x\"}"));
        default: throw new InvalidOperationException(kind);
    }
}

async Task<string> Complete(string p)
{
    using var r = await Post("v1/completions", Body(new { model, prompt = p, max_tokens = 16, temperature = 0, ignore_eos = true }));
    r.EnsureSuccessStatusCode();
    return JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
}

async Task<int> Status(string path, byte[] body)
{
    var content = new ByteArrayContent(body);
    content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
    using var r = await Post(path, content);
    await r.Content.ReadAsStringAsync();
    return (int)r.StatusCode;
}

Task<HttpResponseMessage> Post(string path, HttpContent content) => http.PostAsync(path, content);

static StringContent Body(object o) => new(JsonSerializer.Serialize(o), Encoding.UTF8, "application/json");

static Dictionary<string, double> Metrics(string text) => text.Split('\n')
    .Where(l => l.Length > 0 && l[0] != '#' && !l.Contains('{'))
    .Select(l => l.Split(' '))
    .ToDictionary(p => p[0], p => double.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));

static long Rss(int? pid)
{
    if (pid is null) return 0;
    var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:"));
    return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
}

partial class Program
{
    static readonly string[] Kinds = ["greedy", "greedy", "greedy", "stream", "stream", "disconnect", "malformed", "bad-token", "bad-prompt-id", "bad-utf8", "surrogate", "huge-max", "unknown-model"];
}

sealed class Args(Dictionary<string, string> values)
{
    public static Args Parse(string[] a)
    {
        var d = new Dictionary<string, string>();
        for (int i = 0; i + 1 < a.Length; i += 2) d[a[i]] = a[i + 1];
        return new Args(d);
    }
    public bool Has(string k) => values.ContainsKey(k);
    public string Get(string k, string fallback) => values.TryGetValue(k, out var v) ? v : fallback;
}
