using System.Collections.Concurrent;
using Loom.Engine.Sampling;
using Loom.Models;
using Loom.Models.Architectures;

namespace Loom.Engine;

/// <summary>
/// The serving core: admission, the step loop and the public API. Requests go in, each step schedules them
/// (<see cref="Scheduler"/>), runs one ragged batch (<see cref="ModelRunner"/>), samples, and hands each token to
/// the <see cref="OutputProcessor"/>, which streams <see cref="RequestOutput"/>s back. <c>loom run</c>, offline generation and the HTTP server all drive this one loop.
/// All scheduling state is touched only by the thread that calls <see cref="Step"/> (the background loop once <see cref="Start"/>ed).
/// </summary>
public sealed class LlmEngine : IDisposable
{
    private readonly ConcurrentQueue<Request> _incoming = new();
    private readonly ConcurrentQueue<string> _aborts = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ModelRunner _runner;
    private readonly OutputProcessor _output;
    private Thread? _loop;
    private long _nextSeqId, _nextRequestId;
    private int _pending;

    public LlmEngine(LoadedModel model, EngineOptions? options = null)
    {
        Model = model;
        Options = options ?? new EngineOptions();
        Options.Validate();
        var c = model.Config;
        _runner = new ModelRunner(model.Transformer, Options);
        var cache = _runner.Cache;
        Blocks = new BlockManager(cache.NumBlocks, Options.BlockSize, Options.PrefixCaching, cache.CopyBlock);
        Scheduler = new Scheduler(Options, Blocks, c.ContextLength);
        _output = new OutputProcessor(model.Tokenizer, c, Scheduler, Metrics, Options.Faults, () => Interlocked.Decrement(ref _pending));
    }

    public LoadedModel Model { get; }
    public EngineOptions Options { get; }
    public BlockManager Blocks { get; }
    public Scheduler Scheduler { get; }
    public EngineMetrics Metrics { get; } = new();
    public KvCache Cache => _runner.Cache;
    /// <summary>Threads each forward pass runs on.</summary>
    public int Threads => _runner.Threads;
    /// <summary>Tokens run through the model since start: prompt chunks (cached prefixes excluded), recomputations and decodes.</summary>
    public long TokensComputed => _runner.TokensComputed;
    /// <summary>Requests accepted but not yet finished.</summary>
    public int PendingRequests => Volatile.Read(ref _pending);

    /// <summary>Tokenizes <paramref name="prompt"/> (adding BOS as the model wants) and submits it.</summary>
    public Request AddRequest(string prompt, SamplingParams p, string? requestId = null, int priority = 0) =>
        AddRequest(Model.Tokenizer.Encode(prompt, addSpecial: true, parseSpecial: true), p, requestId, priority);

    /// <summary>
    /// Submits a tokenized prompt. Throws <see cref="ArgumentException"/> for an empty or too long prompt or bad
    /// parameters, and <see cref="EngineOverloadedException"/> when the waiting queue is full.
    /// </summary>
    public Request AddRequest(int[] prompt, SamplingParams p, string? requestId = null, int priority = 0)
    {
        RequestChecks.Check(prompt, p, Model.Config, (long)Blocks.NumBlocks * Blocks.BlockSize, Options.MaxNumSeqs);
        if (Interlocked.Increment(ref _pending) > Options.MaxWaiting + Options.MaxNumSeqs)
        {
            Interlocked.Decrement(ref _pending);
            throw new EngineOverloadedException($"{Options.MaxWaiting} requests are already waiting");
        }
        var request = new Request(requestId ?? $"req-{Interlocked.Increment(ref _nextRequestId)}", prompt, p, priority);
        _incoming.Enqueue(request);
        _signal.Release();
        return request;
    }

    /// <summary>Ends a request at the next step: its sequences finish with <see cref="FinishReason.Abort"/> and free their blocks.</summary>
    public void Abort(string requestId)
    {
        _aborts.Enqueue(requestId);
        _signal.Release();
    }

    /// <summary>True while anything is queued, waiting or running.</summary>
    public bool HasWork => !_incoming.IsEmpty || !_aborts.IsEmpty || Scheduler.WaitingCount > 0 || Scheduler.RunningCount > 0;

    /// <summary>
    /// Raised once for each request that fails inside the engine (the request itself ends with
    /// <see cref="FinishReason.Error"/>, its blocks and queue slot freed); hosts log it here.
    /// </summary>
    public event Action<string, Exception>? RequestFailed
    {
        add => _output.RequestFailed += value;
        remove => _output.RequestFailed -= value;
    }

    /// <summary>
    /// One iteration: admit, schedule, run the batch, sample, emit. Returns false when there was nothing to do.
    /// A failure is contained to the requests it concerns (see <see cref="RequestFailed"/>); the engine carries on.
    /// </summary>
    public bool Step()
    {
        Admit();
        ProcessAborts();
        var chunks = Plan();
        if (chunks is null) return true;
        if (chunks.Count == 0) return HasWork;
        var started = DateTime.UtcNow;
        try
        {
            if (Options.Faults is { } faults)
                foreach (var r in RequestsOf(chunks)) faults.At(EngineStage.Run, r);
            _runner.Run(chunks);
        }
        catch (Exception e)
        {
            foreach (var r in RequestsOf(chunks)) Fail(r, e);
            return true;
        }
        int sampleIndex = 0;
        for (int i = 0; i < chunks.Count; i++)
        {
            var chunk = chunks[i];
            var seq = chunk.Seq;
            int logitsRow = chunk.Samples ? sampleIndex++ : -1;
            if (seq.Status == SequenceStatus.Finished) continue; // failed with a sibling earlier in this step
            try
            {
                Scheduler.Advance(chunk);
                if (seq.OutputLength == 0) Metrics.PromptTokens += chunk.Count;
                if (!chunk.Samples) continue;
                _output.SampleAndEmit(seq, _runner.Logits(logitsRow));
            }
            catch (Exception e)
            {
                Fail(seq.Request, e);
            }
        }
        Metrics.Steps++;
        Metrics.StepSeconds += (DateTime.UtcNow - started).TotalSeconds;
        Metrics.Preemptions = Scheduler.Preemptions;
        return true;
    }

    /// <summary>This step's chunks; null when scheduling failed, which fails every request in flight (they share its state).</summary>
    private IReadOnlyList<ScheduledChunk>? Plan()
    {
        SchedulePlan plan;
        try
        {
            plan = Scheduler.Schedule();
            if (plan.Overflowed.Count > 0)
                foreach (var seq in plan.Overflowed.ToArray()) _output.Finish(seq, FinishReason.Length, null, "");
        }
        catch (Exception e)
        {
            _output.FailAll(e);
            return null;
        }
        IReadOnlyList<ScheduledChunk> chunks = plan.Chunks;
        if (Options.Faults is not { } faults || chunks.Count == 0) return chunks;
        // A failure for one request's chunk removes that request from the step; the rest run.
        foreach (var r in RequestsOf(chunks))
        {
            try { faults.At(EngineStage.Schedule, r); }
            catch (Exception e) { Fail(r, e); }
        }
        return chunks.Where(c => c.Seq.Status != SequenceStatus.Finished).ToArray();
    }

    private static Request[] RequestsOf(IReadOnlyList<ScheduledChunk> chunks) => chunks.Select(c => c.Seq.Request).Distinct().ToArray();

    /// <summary>Starts the background step loop (for servers and concurrent callers).</summary>
    public void Start()
    {
        if (_loop is not null) return;
        _loop = new Thread(Loop) { IsBackground = true, Name = "loom-engine" };
        _loop.Start();
    }

    private void Loop()
    {
        var ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            bool worked;
            try { worked = Step(); }
            catch (Exception e)
            {
                // Step contains failures to the requests they concern; anything that still escapes fails every
                // request in flight, so none waits forever on a loop that cannot serve it.
                _output.FailAll(e);
                worked = false;
            }
            if (!worked && !HasWork)
            {
                try { _signal.Wait(ct); } catch (OperationCanceledException) { break; }
            }
        }
    }

    /// <summary>Runs prompts to completion (offline batch generation through the same step loop).</summary>
    public async Task<IReadOnlyList<GenerationResult>> GenerateAsync(IReadOnlyList<int[]> prompts, SamplingParams p, CancellationToken ct = default)
    {
        var requests = prompts.Select(prompt => AddRequest(prompt, p)).ToArray();
        if (_loop is null)
        {
            // No background loop: step on this thread until these requests are done.
            while (requests.Any(r => !r.IsFinished)) { ct.ThrowIfCancellationRequested(); Step(); }
        }
        var results = new GenerationResult[requests.Length];
        for (int i = 0; i < requests.Length; i++) results[i] = await GenerationResult.CollectAsync(requests[i], ct);
        return results;
    }

    /// <summary>Runs prompts to completion on the calling thread (or waits for the background loop) and returns their results in order.</summary>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<int[]> prompts, SamplingParams p, CancellationToken ct = default) =>
        GenerateAsync(prompts, p, ct).GetAwaiter().GetResult();

    /// <summary>Tokenizes each prompt (adding BOS as the model wants) and runs them to completion.</summary>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<string> prompts, SamplingParams p, CancellationToken ct = default) =>
        Generate(prompts.Select(t => Model.Tokenizer.Encode(t, addSpecial: true, parseSpecial: true)).ToArray(), p, ct);

    private void Admit()
    {
        while (_incoming.TryDequeue(out var r))
        {
            _output.InFlight[r.Id] = r;
            try { AdmitOne(r); }
            catch (Exception e) { Fail(r, e); }
        }
    }

    private void AdmitOne(Request r)
    {
        {
            Options.Faults?.At(EngineStage.Admit, r);
            Sequence? first = null;
            for (int i = 0; i < r.Params.N; i++)
            {
                var decoder = Model.Tokenizer.CreateDecoder(continuesText: true);
                var stops = r.Params.Stop.Count > 0 ? new StopStringMatcher(r.Params.Stop) : null;
                var seq = new Sequence(_nextSeqId++, r, i, r.Prompt, new Sampler(r.Params, Model.Config.VocabSize, sequenceIndex: i), decoder, stops);
                r.Sequences.Add(seq);
                // The other choices wait for the first one's prefill and then share its blocks.
                if (first is null) { first = seq; Scheduler.Add(seq); }
                else (first.PendingForks ??= []).Add(seq);
            }
        }
    }

    private void ProcessAborts()
    {
        while (_aborts.TryDequeue(out var id))
        {
            if (!_output.InFlight.TryGetValue(id, out var r)) continue;
            foreach (var seq in r.Sequences)
                if (seq.Status != SequenceStatus.Finished) _output.Finish(seq, FinishReason.Abort, null, "");
            Metrics.Aborted++;
        }
    }

    private void Fail(Request r, Exception e) => _output.Fail(r, e);

    public void Dispose()
    {
        _stop.Cancel();
        _loop?.Join();
        _runner.Dispose();
    }
}
