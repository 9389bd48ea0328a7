using System.Diagnostics;
using Loom.Core.Threading;
using Loom.Engine.Sampling;
using Loom.Engine.Speculative;
using Loom.Models;
using Loom.Models.Architectures;

namespace Loom.Engine.Bench;

/// <summary>
/// <c>loom bench</c>'s text-generation test with speculative decoding: greedy generation after a given prompt (a
/// text with something for n-gram lookup to find), through two engines at each thread count, one plain and one
/// speculating, whose repetitions alternate so that a machine whose load changes treats both alike. Only decoding is
/// timed: from the first generated token (which ends the prefill) to the last. Then the cost of one forward pass over
/// 1 … k+1 tokens after the prompt, every row returning logits, as a verification pass runs: what speculation pays
/// for a draft of k tokens.
/// </summary>
public sealed class SpeculativeBench(LoadedModel model)
{
    /// <summary>Timed passes per sample of the pass-cost curve (one sample per repetition).</summary>
    private const int PassesPerSample = 3;

    /// <summary>
    /// Runs the tests at every thread count, reporting each result as it is done. <paramref name="prompt"/> is the
    /// prompt's token ids; <paramref name="speculative"/> the speculating engine's settings.
    /// </summary>
    public IReadOnlyList<BenchResult> Run(BenchOptions options, int[] prompt, SpeculativeOptions speculative, Action<BenchResult>? onResult = null, IProgress<WorkProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(speculative);
        speculative.Validate();
        int n = options.GenTokens, k = speculative.NumTokens;
        if (n < 1) throw new ArgumentException("the speculative test needs -n of at least 1");
        if (prompt.Length < 1) throw new ArgumentException("the speculative test needs a prompt");
        if (prompt.Length + n + k + 1 > model.Config.ContextLength)
            throw new ArgumentException($"prompt ({prompt.Length}) + -n {n} + {k} draft tokens exceed the model's context of {model.Config.ContextLength} tokens");

        var results = new List<BenchResult>();
        var p = new SamplingParams { Temperature = 0f, MaxTokens = n + 1, IgnoreEos = true };
        long total = options.Threads.Count * 2L * (options.Repetitions + 1) * n, done = 0;
        string label = Label(speculative);
        foreach (int threads in options.Threads)
        {
            var plainOptions = new EngineOptions
            {
                Threads = threads, MaxNumSeqs = 1, MaxKvTokens = prompt.Length + n + k + 64,
                MaxNumBatchedTokens = Math.Max(512, k + 1),
            };
            using var plain = new LlmEngine(model, plainOptions);
            using var spec = new LlmEngine(model, plainOptions with { Speculative = speculative });
            string test = $"tg{n} @ d{prompt.Length}";
            // Warm-ups (JIT, scratch buffers, the step-cost model's first measurements), not timed.
            Generate(plain, test);
            Generate(spec, test);
            var plainSamples = new double[options.Repetitions];
            var specSamples = new double[options.Repetitions];
            long drafted = 0, accepted = 0, drafts = 0;
            bool same = true;
            for (int r = 0; r < options.Repetitions; r++)
            {
                var a = Generate(plain, test);
                long d0 = spec.Metrics.SpeculativeDraftTokens, a0 = spec.Metrics.SpeculativeAcceptedTokens, v0 = spec.Metrics.SpeculativeDrafts;
                var b = Generate(spec, test + ", " + label);
                drafted += spec.Metrics.SpeculativeDraftTokens - d0;
                accepted += spec.Metrics.SpeculativeAcceptedTokens - a0;
                drafts += spec.Metrics.SpeculativeDrafts - v0;
                plainSamples[r] = a.TokensPerSecond;
                specSamples[r] = b.TokensPerSecond;
                same &= a.Tokens.SequenceEqual(b.Tokens);
            }
            Report(new BenchResult { Test = test, Threads = threads, Tokens = n, Samples = plainSamples, PromptTokens = prompt.Length });
            Report(new BenchResult
            {
                Test = test, Threads = threads, Tokens = n, Samples = specSamples, PromptTokens = prompt.Length,
                Speculative = label, DraftTokens = drafted, AcceptedTokens = accepted, Drafts = drafts, SameOutput = same,
            });
            foreach (var pass in PassCosts(prompt, k + 1, threads, options.Repetitions)) Report(pass);
        }
        return results;

        void Report(BenchResult r)
        {
            results.Add(r);
            onResult?.Invoke(r);
        }

        Generation Generate(LlmEngine engine, string test)
        {
            var request = engine.AddRequest(prompt, p);
            var tokens = new List<int>(n + 1);
            long start = 0;
            int first = 0;
            bool finished = false;
            while (!finished)
            {
                engine.Step();
                while (request.TryReadOutput(out var o))
                {
                    if (o.TokenIds.Length > 0 && tokens.Count == 0) { start = Stopwatch.GetTimestamp(); first = o.TokenIds.Length; }
                    tokens.AddRange(o.TokenIds.Span);
                    done += o.TokenIds.Length;
                    finished |= o.FinishReason is not null;
                }
                progress?.Report(new WorkProgress(Math.Min(done, total), total, WorkProgress.Tokens, test));
            }
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            return new Generation(tokens, (tokens.Count - first) / seconds);
        }
    }

    /// <summary>A method as the table shows it: <c>ngram k=5</c>, <c>layers:4 k=5</c>, <c>draft k=5</c>, and <c>no-backoff</c> when so.</summary>
    public static string Label(SpeculativeOptions s) => s.Method switch
    {
        SpeculativeMethod.Ngram => $"ngram k={s.NumTokens}",
        SpeculativeMethod.Layers => $"layers:{s.DraftLayers} k={s.NumTokens}",
        _ => $"draft k={s.NumTokens}",
    } + (s.BackOff ? "" : " no-backoff");

    /// <summary>
    /// One forward pass over 1 … <paramref name="maxTokens"/> tokens placed after the prompt, logits for every row and
    /// each row summed as a decode (as verification runs): <paramref name="repetitions"/> samples of
    /// <see cref="PassesPerSample"/> passes each.
    /// </summary>
    private IEnumerable<BenchResult> PassCosts(int[] prompt, int maxTokens, int threads, int repetitions)
    {
        var t = model.Transformer;
        var c = model.Config;
        int blockSize = 16, blocks = (prompt.Length + maxTokens + blockSize - 1) / blockSize;
        using var cache = new KvCache(c.NumLayers, t.KvDim, blocks, blockSize);
        using var pool = new ComputePool(threads);
        var table = Enumerable.Range(0, blocks).ToArray();
        var logits = new float[maxTokens * c.VocabSize];
        var batch = new ForwardBatch();
        batch.Add(prompt, 0, table, LogitRequest.Last);
        t.Forward(batch, cache, logits, pool);
        // The draft rows repeat the prompt's last tokens: any ids cost the same.
        var ids = Enumerable.Range(0, maxTokens).Select(i => prompt[Math.Max(0, prompt.Length - maxTokens + i)]).ToArray();
        for (int tokens = 1; tokens <= maxTokens; tokens++)
        {
            batch.Clear();
            batch.Add(ids.AsSpan(0, tokens), prompt.Length, table, LogitRequest.All, asDecodes: true);
            t.Forward(batch, cache, logits, pool); // warm-up
            var samples = new double[repetitions];
            for (int r = 0; r < repetitions; r++)
            {
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < PassesPerSample; i++) t.Forward(batch, cache, logits, pool);
                samples[r] = tokens * PassesPerSample / sw.Elapsed.TotalSeconds;
            }
            yield return new BenchResult { Test = $"pass{tokens} @ d{prompt.Length}", Threads = threads, Tokens = tokens, Samples = samples, PromptTokens = prompt.Length, IsPass = true };
        }
    }

    private sealed record Generation(List<int> Tokens, double TokensPerSecond);
}
