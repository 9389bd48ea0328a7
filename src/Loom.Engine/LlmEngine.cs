using System.Collections.Concurrent;
using System.Diagnostics;
using Loom.Engine.Sampling;
using Loom.Engine.Speculative;
using Loom.Engine.Structured;
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
    private readonly ModelRunner _runner;
    private readonly OutputProcessor _output;
    private readonly List<Sequence> _constrained = [];
    private readonly EngineLoop _loop;
    private readonly SpeculativeDecoder? _speculative;
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
        // A sliding group's null block (its block 0) is the pool's own, never handed out.
        var groups = Enumerable.Range(0, cache.Groups)
            .Select(g => new BlockGroup(cache.GroupBlocks(g) - (cache.GroupWindow(g) > 0 ? 1 : 0), cache.GroupWindow(g))).ToArray();
        Blocks = new BlockManager(groups, Options.BlockSize, Options.PrefixCaching, cache.CopyBlock);
        Scheduler = new Scheduler(Options, Blocks);
        Constraints = new ConstraintCompiler(model.Tokenizer, c.VocabSize);
        _output = new OutputProcessor(model.Tokenizer, c, Scheduler, Metrics, Options.Faults, () => Interlocked.Decrement(ref _pending));
        _loop = new EngineLoop(Step, () => HasWork, _output.FailAll);
        if (Options.Speculative is { } spec)
        {
            _speculative = new SpeculativeDecoder(spec, _runner, Options.BlockSize, Options.MaxNumBatchedTokens, Options.MaxNumSeqs, Model.Tokenizer.EndOfGenerationIds, Metrics);
            Scheduler.Released = _speculative.Release;
        }
    }

    public LoadedModel Model { get; }
    public EngineOptions Options { get; }
    public BlockManager Blocks { get; }
    public Scheduler Scheduler { get; }
    public EngineMetrics Metrics { get; } = new();
    /// <summary>This engine's compiled structured-output constraints (<see cref="SamplingParams.Constraint"/>), cached by their text.</summary>
    public ConstraintCompiler Constraints { get; }
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
    /// parameters (a <see cref="ConstraintException"/> for a constraint that cannot be compiled: compiling happens
    /// here, on the caller's thread, once per distinct constraint), and <see cref="EngineOverloadedException"/> when
    /// the waiting queue is full.
    /// </summary>
    public Request AddRequest(int[] prompt, SamplingParams p, string? requestId = null, int priority = 0)
    {
        RequestChecks.Check(prompt, p, Model.Config, Blocks.MaxSequenceTokens, Options.MaxNumSeqs);
        var constraint = p.Constraint is { } c ? Constraints.Compile(c) : null;
        if (Interlocked.Increment(ref _pending) > Options.MaxWaiting + Options.MaxNumSeqs)
        {
            Interlocked.Decrement(ref _pending);
            throw new EngineOverloadedException($"{Options.MaxWaiting} requests are already waiting");
        }
        var request = new Request(requestId ?? $"req-{Interlocked.Increment(ref _nextRequestId)}", prompt, p, priority) { Constraint = constraint };
        _incoming.Enqueue(request);
        _loop.Wake();
        return request;
    }

    /// <summary>Ends a request at the next step: its sequences finish with <see cref="FinishReason.Abort"/> and free their blocks.</summary>
    public void Abort(string requestId)
    {
        _aborts.Enqueue(requestId);
        _loop.Wake();
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
        long started = Stopwatch.GetTimestamp();
        try
        {
            Options.Faults?.AtEach(EngineStage.Run, chunks);
            _speculative?.Draft(chunks, _runner);
            _runner.Run(chunks);
            _speculative?.RecordPass(_runner.LastTokenCount, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
        catch (Exception e)
        {
            for (int i = 0; i < chunks.Count; i++) _output.Fail(chunks[i].Seq.Request, e); // once per request: failing is idempotent
            return true;
        }
        PrepareMasks(chunks);
        int logitsRow = 0;
        for (int i = 0; i < chunks.Count; i++)
        {
            var chunk = chunks[i];
            var seq = chunk.Seq;
            int row = logitsRow;
            logitsRow += chunk.LogitRows;
            if (seq.Status == SequenceStatus.Finished) continue; // failed with a sibling earlier in this step
            try
            {
                if (chunk.Draft > 0)
                {
                    // Tokens first, then progress: only the accepted ones enter the cache's accounting.
                    int accepted = _speculative!.Verify(_output, _runner, seq, row, chunk.Draft);
                    if (seq.Status != SequenceStatus.Finished) Scheduler.Advance(chunk, accepted);
                    continue;
                }
                Scheduler.Advance(chunk);
                if (seq.OutputLength == 0) Metrics.PromptTokens += chunk.Count;
                if (chunk.Samples) _output.SampleAndEmit(seq, _runner.Logits(row));
            }
            catch (Exception e)
            {
                _output.Fail(seq.Request, e);
            }
        }
        Metrics.Steps++;
        Metrics.StepSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds;
        Metrics.Preemptions = Scheduler.Preemptions;
        return true;
    }

    /// <summary>
    /// The masks of this step's constrained samples, side by side on the engine's pool: computed one after another
    /// on this thread they added a tenth to a batch-16 step. A mask that fails here is left to the sampling path,
    /// which fails only its request.
    /// </summary>
    private void PrepareMasks(IReadOnlyList<ScheduledChunk> chunks)
    {
        _constrained.Clear();
        for (int i = 0; i < chunks.Count; i++)
            if (chunks[i] is { Samples: true, Draft: 0, Seq: { Matcher: not null, Status: not SequenceStatus.Finished } seq }) _constrained.Add(seq);
        if (_constrained.Count < 2) return;
        int words = (Model.Config.VocabSize + 63) / 64;
        _runner.Pool.For(_constrained.Count, (long)words * 64 * 64, (_constrained, words), static (s, start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                var seq = s._constrained[i];
                try
                {
                    seq.Allowed ??= new ulong[s.words];
                    seq.Matcher!.FillMask(seq.Allowed);
                    seq.AllowedReady = true;
                }
                catch (Exception)
                {
                    seq.AllowedReady = false;
                }
            }
        }, chunksPerThread: 1);
    }

    /// <summary>This step's chunks; null when scheduling failed, which fails every request in flight (they share its state).</summary>
    private IReadOnlyList<ScheduledChunk>? Plan()
    {
        SchedulePlan plan;
        try
        {
            _speculative?.Propose(Scheduler.Running, Options.MaxNumBatchedTokens);
            plan = Scheduler.Schedule();
            for (int i = plan.Overflowed.Count - 1; i >= 0; i--) _output.Finish(plan.Overflowed[i], FinishReason.Length, null);
        }
        catch (Exception e)
        {
            _output.FailAll(e);
            return null;
        }
        return Options.Faults is { } faults ? faults.DropFailing(plan.Chunks, _output.Fail) : plan.Chunks;
    }

    /// <summary>True once <see cref="Start"/> has the background loop stepping; otherwise callers step.</summary>
    public bool IsLooping => _loop.IsRunning;

    /// <summary>Starts the background step loop (for servers and concurrent callers).</summary>
    public void Start() => _loop.Start();

    private void Admit()
    {
        while (_incoming.TryDequeue(out var r))
        {
            _output.InFlight[r.Id] = r;
            try { AdmitOne(r); }
            catch (Exception e) { _output.Fail(r, e); }
        }
    }

    private void AdmitOne(Request r)
    {
        Options.Faults?.At(EngineStage.Admit, r);
        Sequence? first = null;
        for (int i = 0; i < r.Params.N; i++)
        {
            var stops = r.Params.Stop.Count > 0 ? new StopStringMatcher(r.Params.Stop) : null;
            // Constrained text is exactly the bytes the constraint matched: no space cleaning.
            var decoder = Model.Tokenizer.CreateDecoder(skipSpecial: r.Params.SkipSpecialTokens, continuesText: true, cleanSpaces: r.Constraint is null);
            var text = new SequenceText(decoder, stops, r.Params.MaxTokens);
            var seq = new Sequence(_nextSeqId++, r, i, r.Prompt, new Sampler(r.Params, Model.Config.VocabSize, sequenceIndex: i), text)
            {
                Matcher = r.Constraint?.NewMatcher(),
                // Drafts are checked against the target alone, not the constraint: constrained sequences do not speculate.
                Speculation = r.Constraint is null ? _speculative?.StateFor(r.Params) : null,
            };
            r.Sequences.Add(seq);
            _speculative?.Admit(seq);
            // The other choices wait for the first one's prefill and then share its blocks.
            if (first is null) { first = seq; Scheduler.Add(seq); }
            else (first.PendingForks ??= []).Add(seq);
        }
    }

    private void ProcessAborts()
    {
        while (_aborts.TryDequeue(out var id)) _output.Abort(id);
    }

    /// <summary>Blocks of the draft model's cache in use (0 without a draft model).</summary>
    public int DraftBlocksInUse => _speculative?.DraftBlocksInUse ?? 0;

    /// <summary>Bytes of every KV cache the engine holds: the target's and a draft model's; within the KV budget together.</summary>
    public long KvCacheBytes => Cache.TotalBytes + (_speculative?.DraftCacheBytes ?? 0);

    public void Dispose()
    {
        _loop.Dispose();
        _speculative?.Dispose();
        _runner.Dispose();
    }
}
