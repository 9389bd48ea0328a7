using System.Diagnostics;
using Loom.Core.Threading;
using Loom.Models;
using Loom.Models.Architectures;

namespace Loom.Engine.Bench;

/// <summary>
/// llama-bench's two measurements on a <see cref="Transformer"/>: prompt processing (one forward pass over a prompt of
/// random token ids, from an empty cache) and text generation (one-token forward passes from position 0), each
/// repeated after a warm-up at every thread count. Generation is also compared with the memory bandwidth the machine
/// reaches (<see cref="BandwidthProbe"/>), since reading the weights once per token is what bounds it.
/// </summary>
public sealed class BenchRunner(Transformer model)
{
    private const int BlockSize = 16;

    public Transformer Model { get; } = model;

    /// <summary>
    /// Weight bytes read per generated token: every tensor, except that untied embeddings give one row and a
    /// mixture-of-experts layer reads only the experts a token is routed to (used / count of each expert tensor).
    /// </summary>
    public long WeightBytesPerToken
    {
        get
        {
            var w = Model.Weights;
            var c = Model.Config;
            var experts = w.Layers.Select(l => l.Moe).OfType<MoeWeights>().SelectMany(m => new[] { m.GateExps, m.UpExps, m.DownExps })
                .ToHashSet(ReferenceEqualityComparer.Instance);
            long all = w.All().Sum(t => experts.Contains(t) ? t.ByteSize / c.ExpertCount * c.ExpertUsedCount : t.ByteSize);
            return ReferenceEquals(w.TokenEmbedding, w.Output) ? all : all - w.TokenEmbedding.ByteSize + w.TokenEmbedding.RowBytes;
        }
    }

    /// <summary>KV-cache bytes a token at <paramref name="position"/> reads: K and V (f16) of every layer for positions 0..position (MLA: its latent rows).</summary>
    public long KvBytesRead(int position) => (position + 1L) * KvCache.BytesPerToken(Model.Config, KvCacheType.F16);

    /// <summary>
    /// Runs every test at every thread count on a pool of its own, reporting each result as it is done;
    /// <paramref name="progress"/> hears the tokens run so far, warm-ups included, of all the tests.
    /// </summary>
    public IReadOnlyList<BenchResult> Run(BenchOptions options, Action<BenchResult>? onResult = null, IProgress<WorkProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var c = Model.Config;
        options.Validate(c.ContextLength);
        int tokens = Math.Max(options.PromptTokens, options.GenTokens);
        int blocks = (tokens + BlockSize - 1) / BlockSize;
        using var cache = KvCache.For(c, blocks, BlockSize);
        var table = Enumerable.Range(0, blocks).ToArray();
        var logits = new float[c.VocabSize];
        var batch = new ForwardBatch();
        var rng = new Random(options.Seed);
        int[] RandomTokens(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(c.VocabSize)).ToArray();

        using var probe = options.ProbeBytes > 0 && options.GenTokens > 0 ? new BandwidthProbe(options.ProbeBytes) : null;
        var results = new List<BenchResult>();
        // Each prompt test runs once more as its warm-up; a generation test's warm-up is one token.
        long perThreads = (options.Repetitions + 1L) * options.PromptTokens + (options.GenTokens > 0 ? (long)options.Repetitions * options.GenTokens + 1 : 0);
        long total = options.Threads.Count * perThreads, done = 0;
        string test = "";
        using var pool = new ComputePool(options.Threads.Max());
        foreach (int threads in options.Threads)
        {
            pool.Threads = threads;
            if (options.PromptTokens > 0)
            {
                int p = options.PromptTokens;
                test = $"pp{p}, {threads} threads";
                Prompt(RandomTokens(p)); // warm-up
                var samples = new double[options.Repetitions];
                for (int r = 0; r < samples.Length; r++)
                {
                    var ids = RandomTokens(p);
                    var sw = Stopwatch.StartNew();
                    Prompt(ids);
                    samples[r] = p / sw.Elapsed.TotalSeconds;
                }
                Report(new BenchResult { Test = $"pp{p}", Threads = threads, Tokens = p, Samples = samples });
            }
            if (options.GenTokens > 0)
            {
                int n = options.GenTokens;
                test = $"tg{n}, {threads} threads";
                Generate(RandomTokens(1)); // warm-up
                var samples = new double[options.Repetitions];
                for (int r = 0; r < samples.Length; r++)
                {
                    var ids = RandomTokens(n);
                    var sw = Stopwatch.StartNew();
                    Generate(ids);
                    samples[r] = n / sw.Elapsed.TotalSeconds;
                }
                double kv = Enumerable.Range(0, n).Average(i => (double)KvBytesRead(i));
                Report(new BenchResult
                {
                    Test = $"tg{n}", Threads = threads, Tokens = n, Samples = samples,
                    BytesPerToken = WeightBytesPerToken + kv,
                    ProbeGBps = probe?.MeasureGBps(threads),
                });
            }
        }
        return results;

        void Report(BenchResult r)
        {
            results.Add(r);
            onResult?.Invoke(r);
        }

        void Advance(int tokens)
        {
            done += tokens;
            progress?.Report(new WorkProgress(done, total, WorkProgress.Tokens, test));
        }

        // A fresh sequence each time: positions from 0, so earlier runs' cache entries are simply overwritten.
        void Prompt(int[] ids)
        {
            batch.Clear();
            batch.Add(ids, 0, table, LogitRequest.Last);
            Model.Forward(batch, cache, logits, pool);
            Advance(ids.Length);
        }

        void Generate(int[] ids)
        {
            for (int i = 0; i < ids.Length; i++)
            {
                batch.Clear();
                batch.Add(ids.AsSpan(i, 1), i, table, LogitRequest.Last);
                Model.Forward(batch, cache, logits, pool);
                Advance(1);
            }
        }
    }
}
