namespace Loom.Engine.Speculative;

/// <summary>
/// Speculative decoding inside the continuous batch. Before each step it asks the proposer for drafts for the
/// running sequences that decode, or reserves draft slots for the layer drafter, which fills them once the scheduler
/// has given them blocks, and keeps what the back-off grants; the scheduler runs each draft with its sequence's last
/// token as one chunk whose every row returns logits; after the pass this verifies each draft against those logits
/// and the scheduler keeps only the accepted tokens' KV.
/// </summary>
/// <remarks>
/// Verification is the speculative-sampling rule (Leviathan et al., Chen et al.). Position j's target distribution
/// p_j is the sequence's own sampler's, processed exactly as a plain decode would be (penalties and min_tokens over
/// the tokens accepted before j, temperature, top-k/p, min-p, its seeded generator). For a point-mass draft token t
/// (n-gram lookup, greedy requests, <see cref="DraftSampling.Greedy"/>) it draws x from p_j and accepts t when
/// x = t, which happens with probability p_j(t) = min(1, p/q); otherwise x itself is the resample from p_j with t
/// removed and renormalised, which is norm(max(0, p − q)). Each emitted token then costs one draw, as without
/// speculation, so a seeded request yields the same tokens either way, and greedy output is the argmax chain itself.
/// For a token the drafter sampled from its own processed distribution q_j (<see cref="DraftSampler"/>), the general
/// rule applies (<see cref="SpeculativeSampling"/>): accepted with probability min(1, p_j/q_j), else resampled from
/// norm(max(0, p_j − q_j)); the output follows p, and is reproducible for a seed while the draft lengths are (the
/// back-off, which reads measured pass times, off). After k acceptances the last row gives the bonus token. A stop
/// string, EOS or the length limit inside an accepted run ends the sequence at that token, as a plain decode would.
/// </remarks>
internal sealed class SpeculativeDecoder : IDisposable
{
    // Every few steps the back-off grants one token more than the cost model chooses, so a size measured during a
    // slow moment is measured again rather than ruled out for good.
    private const int ExploreEvery = 16;
    private readonly SpeculativeOptions _options;
    private readonly int _contextLength;
    private readonly EngineMetrics _metrics;
    private readonly ISpeculativeProposer? _proposer;
    private readonly LayerDrafter? _drafter;
    private readonly DraftModelDrafter? _draftModel;
    private readonly DraftSampler _picker;
    private readonly StepCostModel _cost;
    private double[] _worth = new double[64];
    private int[] _owner = new int[64], _grant = new int[16];
    private long _steps;

    public SpeculativeDecoder(SpeculativeOptions options, ModelRunner runner, int blockSize, int maxStepTokens, int maxSeqs, IReadOnlySet<int> endOfGeneration, EngineMetrics metrics)
    {
        var config = runner.Model.Config;
        _options = options;
        // A step verifies at most this many draft tokens: the cap, the step's budget, every sequence's longest draft.
        int maxDrafts = (int)Math.Min(Math.Min(options.MaxBatchTokens, maxStepTokens), (long)options.NumTokens * maxSeqs);
        _picker = new DraftSampler(options.DraftSampling, config.VocabSize, maxDrafts, endOfGeneration);
        _metrics = metrics;
        _contextLength = config.ContextLength;
        _cost = new StepCostModel(maxStepTokens);
        _proposer = options.CreateProposer();
        if (options.Method == SpeculativeMethod.Layers)
        {
            // All the layers is allowed: a draft that is the target itself, accepted throughout, checks the machinery.
            if (options.DraftLayers > config.NumLayers)
                throw new ArgumentException($"self-drafting from {options.DraftLayers} layers needs a model with as many; this one has {config.NumLayers}");
            _drafter = new LayerDrafter(options.DraftLayers, config.VocabSize);
        }
        // The draft model's cache holds as many tokens as the target's global pool (one pool for all its layers).
        if (options.Method == SpeculativeMethod.DraftModel)
            _draftModel = new DraftModelDrafter(options.DraftModel!.Transformer, config.VocabSize, runner.Pools.Full, blockSize, runner.Pool, runner.Attention);
    }

    public SpeculativeOptions Options => _options;

    /// <summary>A new sequence's speculation state, or null when its request opted out.</summary>
    public SpeculationState? StateFor(Sampling.SamplingParams p) => p.Speculative ? new SpeculationState(_options.NumTokens) : null;

    /// <summary>Records the duration of a forward pass over <paramref name="tokens"/> tokens, for the back-off.</summary>
    public void RecordPass(int tokens, double seconds) => _cost.Record(tokens, seconds);

    /// <summary>
    /// Proposes drafts for the running sequences about to decode, then keeps the draft tokens the step can afford
    /// (<see cref="DraftBudget"/>), never more than the cap (<see cref="SpeculativeOptions.MaxBatchTokens"/> less
    /// the decodes) or the step budget allows.
    /// </summary>
    public void Propose(IReadOnlyList<Sequence> running, int stepBudget)
    {
        int decodes = 0;
        for (int i = 0; i < running.Count; i++)
            if (running[i].Length - running[i].ComputedTokens == 1) decodes++;
        int room = Math.Min(_options.MaxBatchTokens, stepBudget) - decodes, candidates = 0;
        if (_grant.Length < running.Count) _grant = new int[Math.Max(running.Count, 2 * _grant.Length)];
        for (int i = 0; i < running.Count; i++)
        {
            var seq = running[i];
            _grant[i] = 0;
            if (seq.Speculation is not { } state) continue;
            // A prompt whose n > 1 siblings wait on it finishes as a plain chunk: they fork from its progress after it
            // advances, which a verification run only records once all its tokens are sampled.
            if (seq.Length - seq.ComputedTokens != 1 || room <= 0 || seq.PendingForks is not null) { state.Clear(); continue; }
            // Never verify past what the sequence may still emit: its length limit and the context.
            int limit = Math.Min(room, Math.Min(seq.Params.MaxTokens - seq.OutputLength, _contextLength - seq.Length) - 1);
            int d = _proposer is not null ? state.Propose(_proposer, seq.Tokens, limit) : state.Reserve(seq.Tokens, limit);
            if (candidates + d > _worth.Length) { Array.Resize(ref _worth, 2 * (candidates + d)); Array.Resize(ref _owner, _worth.Length); }
            // Its j-th token is accepted only if all before it were: worth α^j, decreasing in j, so sorting by worth keeps each draft's order.
            double worth = 1;
            for (int j = 0; j < d; j++, candidates++) { worth *= state.Acceptance; _worth[candidates] = -worth; _owner[candidates] = i; }
        }
        if (candidates == 0) return;

        var keys = _worth.AsSpan(0, candidates);
        var owners = _owner.AsSpan(0, candidates);
        keys.Sort(owners); // most likely accepted first (keys are negated)
        for (int c = 0; c < candidates; c++) keys[c] = -keys[c];
        int granted = _options.BackOff ? DraftBudget.Choose(decodes, keys, room, _cost) : Math.Min(candidates, room);
        if (++_steps % ExploreEvery == 0) granted = Math.Min(Math.Min(candidates, room), granted + 1);
        for (int c = 0; c < granted; c++) _grant[owners[c]]++;
        for (int i = 0; i < running.Count; i++)
            if (running[i].Speculation is { } state) state.Trim(_grant[i]);
    }

    /// <summary>Drafts the tokens of this step's speculative chunks when the method drafts with the model (their slots are reserved by now).</summary>
    public void Draft(IReadOnlyList<ScheduledChunk> chunks, ModelRunner runner)
    {
        _picker.BeginStep();
        _drafter?.Fill(chunks, runner, _picker);
        _draftModel?.Fill(chunks, _picker);
    }

    /// <summary>Sets up a newly admitted sequence (its shadow in the draft model's cache).</summary>
    public void Admit(Sequence seq) => _draftModel?.Admit(seq);

    /// <summary>Frees what the sequence holds in the draft model's cache (it finished or was preempted).</summary>
    public void Release(Sequence seq) => _draftModel?.Release(seq);

    /// <summary>Draft model blocks in use (0 without a draft model).</summary>
    public int DraftBlocksInUse => _draftModel?.UsedBlocks ?? 0;

    /// <summary>Bytes of the draft model's cache; 0 for the other methods, which keep none.</summary>
    public long DraftCacheBytes => _draftModel?.CacheBytes ?? 0;

    public void Dispose() => _draftModel?.Dispose();

    /// <summary>
    /// Samples and emits <paramref name="seq"/>'s tokens from the verification rows starting at
    /// <paramref name="firstRow"/> of <paramref name="runner"/>'s logits; returns how many of the
    /// <paramref name="draft"/> tokens were accepted.
    /// </summary>
    public int Verify(OutputProcessor output, ModelRunner runner, Sequence seq, int firstRow, int draft)
    {
        var state = seq.Speculation!;
        int start = seq.Length - 1;
        state.BeginVerify(draft);
        int accepted = 0;
        for (int j = 0; j <= draft; j++)
        {
            int at = seq.Length, proposed = j < draft ? state.Draft[j] : -1;
            if (j < draft && state.DraftRow(j) is >= 0 and int row) output.VerifyAndEmit(seq, runner.Logits(firstRow + j), proposed, _picker.Row(row));
            else output.SampleAndEmit(seq, runner.Logits(firstRow + j), proposed);
            if (seq.Tokens[at] != proposed) break;
            accepted++;
            if (seq.Status == SequenceStatus.Finished) break;
        }
        state.EndVerify(draft, accepted, _options.Adaptive);
        _draftModel?.Accepted(seq, start, accepted);
        _metrics.RecordSpeculation(draft, accepted);
        return accepted;
    }
}
