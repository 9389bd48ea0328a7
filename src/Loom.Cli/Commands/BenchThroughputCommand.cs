using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Loom.Cli.BenchServe;
using Loom.Engine;
using Loom.Engine.Sampling;
using Loom.Models;

namespace Loom.Cli.Commands;

/// <summary>
/// <c>loom bench throughput</c>: offline serving throughput, as vLLM's <c>benchmark_throughput</c> measures it.
/// N requests of random prompts (optionally sharing a prefix) each generate exactly O tokens (EOS ignored), at most C
/// in flight; the whole run counts, prefill included.
/// </summary>
internal static class BenchThroughputCommand
{
    public static Command Create()
    {
        var model = ModelOptions.Model();
        var tokenizer = ModelOptions.Tokenizer();
        var threads = ModelOptions.Threads();
        var numPrompts = new Option<int>("--num-prompts") { Description = "Requests to run", DefaultValueFactory = _ => 32 }.InRange(1);
        var inputLen = new Option<int>("--input-len") { Description = "Prompt tokens per request", DefaultValueFactory = _ => 128 }.InRange(1);
        var outputLen = new Option<int>("--output-len") { Description = "Tokens generated per request", DefaultValueFactory = _ => 128 }.InRange(1);
        var prefixLen = new Option<int>("--prefix-len") { Description = "Leading prompt tokens every request shares (prefix-cache benchmark)", DefaultValueFactory = _ => 0 }.InRange(0);
        var concurrency = new Option<int?>("--concurrency") { Description = "Most requests in flight (default: all at once)" }.InRange(1);
        var seed = new Option<int>("--seed") { Description = "Seed of the random prompts", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--output", "-o") { Description = "text or json", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "json");
        var report = new Option<string?>("--report") { Description = "Write a self-contained HTML report: the figures, and the distributions of TTFT and end-to-end latency" };
        var engineOptions = new EngineCliOptions();

        var cmd = new Command("throughput", "Measure batched generation throughput: requests/s and output tokens/s")
        {
            model, tokenizer, threads, numPrompts, inputLen, outputLen, prefixLen, concurrency, seed, output, report,
        };
        engineOptions.AddTo(cmd);
        cmd.SetAction(async (parse, ct) =>
        {
            bool json = parse.GetValue(output) == "json";
            int n = parse.GetValue(numPrompts), inLen = parse.GetValue(inputLen), outLen = parse.GetValue(outputLen), prefix = parse.GetValue(prefixLen);
            int conc = parse.GetValue(concurrency) ?? n;
            if (prefix > inLen) throw new ArgumentException($"--prefix-len must be between 0 and --input-len ({inLen})");
            conc = Math.Min(conc, n);

            // Enough sequences and KV for every request in flight, unless the command line says otherwise.
            var defaults = new EngineOptions
            {
                Threads = parse.GetValue(threads),
                MaxNumSeqs = Math.Max(conc, 1),
                MaxKvTokens = conc * (inLen + outLen + 16),
            };
            var options = engineOptions.Apply(parse, defaults);
            using var loaded = ModelOptions.Load(parse, parse.GetValue(model)!, parse.GetValue(tokenizer), quiet: json);
            if (inLen + outLen > loaded.Config.ContextLength)
                throw new ArgumentException($"--input-len + --output-len ({inLen + outLen}) exceeds the model's context ({loaded.Config.ContextLength})");
            var prompts = MakePrompts(loaded, n, inLen, prefix, parse.GetValue(seed));
            var p = new SamplingParams { Temperature = 0f, MaxTokens = outLen, IgnoreEos = true };
            using var engine = new LlmEngine(loaded, options);
            engine.Start();

            // Warm-up (JIT, thread pool, scratch buffers), not timed; its prompt shares nothing with the benchmark's.
            await engine.GenerateAsync([prompts[0][..Math.Min(8, inLen)].Select(t => t == 3 ? 4 : 3).ToArray()], p with { MaxTokens = 4 }, ct);
            long promptBefore = engine.Metrics.PromptTokens, stepsBefore = engine.Metrics.Steps, preemptBefore = engine.Scheduler.Preemptions;
            long draftedBefore = engine.Metrics.SpeculativeDraftTokens, acceptedBefore = engine.Metrics.SpeculativeAcceptedTokens;

            var gate = new SemaphoreSlim(conc);
            long generated = 0, cached = 0;
            var ttft = new double[n];
            var e2el = new double[n];
            var itl = new List<double>[n];
            var counts = new int[n];
            var sw = Stopwatch.StartNew();
            await CliProgress.RunAsync(parse, "bench throughput", json, async progress =>
            {
                long total = (long)n * outLen;
                var tasks = prompts.Select(async (prompt, i) =>
                {
                    await gate.WaitAsync(ct);
                    try
                    {
                        double start = sw.Elapsed.TotalSeconds, last = start;
                        itl[i] = new List<double>(outLen);
                        var request = engine.AddRequest(prompt, p);
                        int count = 0;
                        await foreach (var o in request.Outputs(ct))
                        {
                            double now = sw.Elapsed.TotalSeconds;
                            if (o.TokenIds.Length > 0)
                            {
                                if (count == 0) ttft[i] = now - start;
                                else itl[i].Add(now - last);
                                last = now;
                                progress.Report(new WorkProgress(Interlocked.Add(ref generated, o.TokenIds.Length), total, WorkProgress.Tokens));
                            }
                            count += o.TokenIds.Length;
                            if (o.FinishReason is not null) Interlocked.Add(ref cached, o.CachedPromptTokens);
                        }
                        e2el[i] = sw.Elapsed.TotalSeconds - start;
                        counts[i] = count;
                    }
                    finally { gate.Release(); }
                }).ToArray();
                await Task.WhenAll(tasks);
                return 0;
            });
            double seconds = sw.Elapsed.TotalSeconds;

            long drafted = engine.Metrics.SpeculativeDraftTokens - draftedBefore, accepted = engine.Metrics.SpeculativeAcceptedTokens - acceptedBefore;
            double rps = n / seconds, outTps = generated / seconds, totalTps = ((long)n * inLen + generated) / seconds;
            if (json)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    model = loaded.Name,
                    num_prompts = n,
                    input_len = inLen,
                    output_len = outLen,
                    prefix_len = prefix,
                    concurrency = conc,
                    threads = engine.Threads,
                    elapsed_seconds = seconds,
                    requests_per_second = rps,
                    output_tokens_per_second = outTps,
                    total_tokens_per_second = totalTps,
                    generated_tokens = generated,
                    prompt_tokens_computed = engine.Metrics.PromptTokens - promptBefore,
                    cached_prompt_tokens = cached,
                    mean_ttft_seconds = ttft.Average(),
                    steps = engine.Metrics.Steps - stepsBefore,
                    preemptions = engine.Scheduler.Preemptions - preemptBefore,
                    kv_cache_blocks = engine.Blocks.NumBlocks,
                    kv_block_size = engine.Blocks.BlockSize,
                    speculative = options.Speculative is null ? null : new
                    {
                        method = options.Speculative.Method.ToString().ToLowerInvariant(),
                        draft_sampling = options.Speculative.DraftSampling.ToString().ToLowerInvariant(),
                        num_speculative_tokens = options.Speculative.NumTokens,
                        max_batch_tokens = options.Speculative.MaxBatchTokens,
                        draft_tokens = drafted,
                        accepted_tokens = accepted,
                        acceptance_rate = drafted == 0 ? 0 : (double)accepted / drafted,
                    },
                }));
            }
            else
            {
                Console.Out.WriteLine($"{loaded.Name}: {n} requests, {inLen} prompt + {outLen} output tokens each, {conc} at once, {engine.Threads} threads");
                Console.Out.WriteLine($"Throughput: {rps:F2} requests/s, {totalTps:F1} total tok/s, {outTps:F1} output tok/s ({seconds:F2} s)");
                Console.Out.WriteLine($"  prompt tokens computed {engine.Metrics.PromptTokens - promptBefore} (cached {cached}), mean TTFT {ttft.Average() * 1000:F0} ms, {engine.Metrics.Steps - stepsBefore} steps, {engine.Scheduler.Preemptions - preemptBefore} preemptions");
                if (options.Speculative is not null)
                    Console.Out.WriteLine($"  speculative: {accepted}/{drafted} draft tokens accepted");
            }
            if (parse.GetValue(report) is { } html)
            {
                var figures = ReportFigures(inLen, generated, conc, seconds, ttft, e2el, itl, counts);
                await File.WriteAllTextAsync(html, BenchReport.Html([new BenchReport.Run(loaded.Name, [figures])],
                    $"loom bench throughput: {loaded.Name}, {n} requests of {inLen} + {outLen} tokens, {conc} at once, {engine.Threads} threads"), ct);
            }
            return 0;
        });
        return cmd;
    }

    /// <summary>The run under <c>bench serve</c>'s keys, its latencies computed by the same code, for its report.</summary>
    private static JsonObject ReportFigures(int inLen, long generated, int conc, double seconds, double[] ttft, double[] e2el, List<double>[] itl, int[] counts)
    {
        int n = ttft.Length;
        var o = new JsonObject
        {
            ["completed"] = n,
            ["failed"] = 0,
            ["max_concurrency"] = conc,
            ["duration"] = seconds,
            ["request_throughput"] = n / seconds,
            ["output_throughput"] = generated / seconds,
            ["total_token_throughput"] = ((long)n * inLen + generated) / seconds,
        };
        var requests = Enumerable.Range(0, n).Select(i => new RequestResult
        {
            Success = true, TtftS = ttft[i], E2elS = e2el[i], Itl = itl[i], PromptTokens = inLen, OutputTokens = counts[i],
        }).ToArray();
        ServeBenchResult.AddLatencies(o, requests);
        return o;
    }

    /// <summary>
    /// Random prompts of <paramref name="length"/> tokens: BOS where the model wants it, then the shared prefix, then
    /// tokens unique to each prompt. Ids avoid the low control range and end-of-generation tokens.
    /// </summary>
    internal static int[][] MakePrompts(LoadedModel model, int count, int length, int prefixLength, int seed)
    {
        var tok = model.Tokenizer;
        int vocab = model.Config.VocabSize, lo = Math.Min(1000, vocab / 2);
        var rng = new Random(seed);
        int Next()
        {
            while (true)
            {
                int t = rng.Next(lo, vocab);
                if (!tok.IsEndOfGeneration(t) && t != tok.BosId) return t;
            }
        }
        int start = tok.AddBos ? 1 : 0;
        var shared = Enumerable.Range(0, Math.Max(0, prefixLength - start)).Select(_ => Next()).ToArray();
        var prompts = new int[count][];
        for (int i = 0; i < count; i++)
        {
            var p = new int[length];
            if (start == 1) p[0] = tok.BosId;
            for (int j = start; j < length; j++) p[j] = j - start < shared.Length ? shared[j - start] : Next();
            prompts[i] = p;
        }
        return prompts;
    }
}
