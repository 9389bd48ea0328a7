namespace Loom.Engine.Sampling;

/// <summary>
/// Turns one sequence's logits into its next token, following vLLM's processing: min-tokens stop masking,
/// repetition penalty, presence/frequency penalties, then greedy argmax or temperature, top-k, top-p, min-p and a
/// seeded draw. Create one per sequence; it is not thread-safe.
/// </summary>
/// <remarks>
/// Per-call work allocates nothing: all scratch is sized at construction, and only what the parameters need
/// (a greedy sampler without penalties holds no scratch at all). Penalty counts are recomputed from the token spans
/// each call (see <see cref="Penalties"/>), so the sampler carries no history of its own beyond the RNG state.
/// <para>
/// Sampling is total: any logits row, with any parameters, gives a token id in bounded time or one typed error. The
/// rule for non-finite numbers, applied after the penalties and the temperature:
/// NaN is treated as negative infinity, so a NaN token is never chosen;
/// if any logit is positive infinity, only those tokens remain and they share the probability equally (greedy takes
/// the lowest id among them);
/// a finite logit that a penalty or the temperature would overflow saturates at ±float.MaxValue instead of becoming
/// infinite, so it stays ordered against every logit that did not overflow rather than tying with true infinities;
/// if nothing is left (every logit NaN or negative infinity), <see cref="Sample"/> throws
/// <see cref="NoSamplableTokenException"/> rather than inventing a token, and the engine fails that request.
/// </para>
/// </remarks>
public sealed class Sampler
{
    private readonly SamplingParams _p;
    private readonly int _vocab;
    private readonly int _topK;              // 0 when disabled or when it keeps the whole vocabulary
    private readonly float _temperature;     // clamped as vLLM does
    private readonly Penalties? _penalties;
    private readonly float[] _prob = [];     // unnormalised probabilities: by token id (dense) or by rank (sorted)
    private readonly ulong[] _keys = [];     // RankKey candidates, best first once sorted
    private readonly double[] _histogram = []; // top-p bucket masses
    private SamplingRng _rng;

    // Result of the last Apply call, consumed by Pick.
    private bool _sorted;
    private int _count;
    private double _mass;
    private float _max;

    /// <param name="p">Validated sampling parameters.</param>
    /// <param name="vocabSize">Length of every logits row.</param>
    /// <param name="sequenceIndex">Which of the request's <see cref="SamplingParams.N"/> completions this is; mixed into
    /// the seed so seeded parallel completions differ from each other yet still reproduce. Index 0 uses the seed as is.</param>
    public Sampler(SamplingParams p, int vocabSize, int sequenceIndex = 0)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        p.Validate();
        _p = p;
        _vocab = vocabSize;
        _topK = p.TopK > 0 && p.TopK < vocabSize ? p.TopK : 0;
        _temperature = p.IsGreedy ? 0f : MathF.Max(p.Temperature, MinTemperature);

        if (Penalties.AreActive(p))
            _penalties = new Penalties(p.RepetitionPenalty, p.PresencePenalty, p.FrequencyPenalty, vocabSize);
        if (!p.IsGreedy)
        {
            _prob = new float[vocabSize];
            if (_topK > 0) _keys = new ulong[_topK];
            else if (p.TopP < 1f)
            {
                _keys = new ulong[vocabSize];
                _histogram = new double[4096];
            }
        }

        _rng = p.Seed is { } seed
            ? new SamplingRng(seed ^ ((ulong)(uint)sequenceIndex * 0xD1B54A32D192ED03UL))
            : SamplingRng.FromRandomSeed();
    }

    /// <summary>
    /// Smallest temperature used for sampling; lower positive values are raised to it, as vLLM does, because dividing
    /// by a tiny temperature overflows logits to infinity. Use 0 for greedy decoding.
    /// </summary>
    public const float MinTemperature = 0.01f;

    /// <summary>The parameters this sampler applies.</summary>
    public SamplingParams Params => _p;

    /// <summary>
    /// Applies every processor to <paramref name="logits"/> in place and draws the next token.
    /// Compute raw logprobs (<see cref="Sampling.Logprobs"/>) before calling this, since the logits are overwritten.
    /// </summary>
    /// <param name="logits">One row of <c>vocabSize</c> raw logits; on return, the processed logits (see <see cref="Apply"/>).</param>
    /// <param name="promptTokens">The prompt, for the repetition penalty.</param>
    /// <param name="outputTokens">Tokens generated so far, for penalties and min-tokens.</param>
    public int Sample(Span<float> logits, ReadOnlySpan<int> promptTokens, ReadOnlySpan<int> outputTokens)
    {
        Apply(logits, promptTokens, outputTokens);
        if (!_p.IsGreedy) return Pick();
        var best = ArgMax(logits);
        return float.IsNegativeInfinity(logits[best]) ? throw new NoSamplableTokenException() : best;
    }

    /// <summary>
    /// Applies the processors without drawing: on return <paramref name="logits"/> holds the penalised logits
    /// (divided by the temperature unless greedy) with every token that top-k, top-p or min-p removed set to
    /// negative infinity, as vLLM's logits processors leave them.
    /// </summary>
    public void Apply(Span<float> logits, ReadOnlySpan<int> promptTokens, ReadOnlySpan<int> outputTokens) =>
        ApplyAll(logits, promptTokens, outputTokens, default);

    /// <summary>
    /// The processed distribution, for speculative sampling: applies every processor as <see cref="Sample"/> does,
    /// counting <paramref name="pendingTokens"/> as output after <paramref name="outputTokens"/> (a draft's earlier
    /// tokens), and writes the normalised probability of every token id into <paramref name="probs"/> (0 for each
    /// token a processor removed). Draws nothing. Sampled parameters only: greedy has no distribution to speak of.
    /// </summary>
    public void Distribution(Span<float> logits, ReadOnlySpan<int> promptTokens, ReadOnlySpan<int> outputTokens, ReadOnlySpan<int> pendingTokens, Span<float> probs)
    {
        if (_p.IsGreedy) throw new InvalidOperationException("a greedy sampler has no distribution to sample from");
        if (probs.Length != _vocab) throw new ArgumentException($"Expected {_vocab} probabilities, got {probs.Length}.", nameof(probs));
        ApplyAll(logits, promptTokens, outputTokens, pendingTokens);
        var scale = (float)(1 / _mass);
        if (_sorted)
        {
            probs.Clear();
            for (var j = 0; j < _count; j++) probs[RankKey.Id(_keys[j])] = _prob[j] * scale;
            return;
        }
        for (var i = 0; i < _vocab; i++) probs[i] = _prob[i] * scale;
    }

    /// <summary>The sequence's generator, for the draws of speculative sampling (through the reference, never a copy).</summary>
    internal ref SamplingRng Rng => ref _rng;

    private void ApplyAll(Span<float> logits, ReadOnlySpan<int> promptTokens, ReadOnlySpan<int> outputTokens, ReadOnlySpan<int> pendingTokens)
    {
        if (logits.Length != _vocab)
            throw new ArgumentException($"Expected {_vocab} logits, got {logits.Length}.", nameof(logits));

        _penalties?.Apply(logits, promptTokens, outputTokens, pendingTokens);
        if (!_p.IsGreedy && _temperature != 1f) Kernels.Divide(logits, _temperature);
        Kernels.Sanitize(logits);
        if (_p.IsGreedy) return;

        if (_topK > 0) TopK(logits);
        else DenseProbabilities(logits);
        if (_p.TopP < 1f) TopP(logits);
        if (_p.MinP > 0f) MinP(logits);
        if (_sorted) MaskOutsideCandidates(logits);
    }

    /// <summary>Index of the largest logit, the lowest id among equals; NaN never wins (0 when every logit is NaN or -∞).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        var best = 0;
        var bestValue = float.NegativeInfinity;
        for (var i = 0; i < logits.Length; i++)
            if (logits[i] > bestValue) { bestValue = logits[i]; best = i; }
        return best;
    }

    // Keeps the k best RankKeys in a max-heap (root = worst kept), then sorts them best first.
    private void TopK(ReadOnlySpan<float> logits)
    {
        var k = _topK;
        var heap = _keys.AsSpan(0, k);
        for (var i = 0; i < k; i++) heap[i] = RankKey.Make(logits[i], i);
        for (var i = k / 2 - 1; i >= 0; i--) SiftDown(heap, i);
        var worst = RankKey.Logit(heap[0]);
        for (var i = k; i < logits.Length; i++)
        {
            // Equal logits lose: a later id ranks below every kept token with the same logit.
            if (!(logits[i] > worst)) continue;
            heap[0] = RankKey.Make(logits[i], i);
            SiftDown(heap, 0);
            worst = RankKey.Logit(heap[0]);
        }
        heap.Sort();
        _sorted = true;
        _count = k;
        var max = RankKey.Logit(heap[0]);
        if (float.IsNegativeInfinity(max)) throw NoCandidates();
        double mass = 0;
        for (var j = 0; j < k; j++) mass += _prob[j] = MathF.Exp(RankKey.Logit(heap[j]) - max);
        _mass = mass;
    }

    private static void SiftDown(Span<ulong> heap, int i)
    {
        var n = heap.Length;
        var item = heap[i];
        while (true)
        {
            var child = 2 * i + 1;
            if (child >= n) break;
            if (child + 1 < n && heap[child + 1] > heap[child]) child++;
            if (heap[child] <= item) break;
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = item;
    }

    private void DenseProbabilities(ReadOnlySpan<float> logits)
    {
        _max = Kernels.Max(logits);
        if (float.IsNegativeInfinity(_max)) throw NoCandidates();
        _sorted = false;
        _count = _vocab;
        _mass = Kernels.ExpShiftedSum(logits, _max, _prob);
    }

    // Nucleus: keep candidates best-first while the mass before them is below top_p of the total.
    private void TopP(Span<float> logits)
    {
        if (_sorted)
        {
            _count = NucleusLength(_prob.AsSpan(0, _count), _p.TopP * _mass, out _mass);
            return;
        }
        var target = _p.TopP * _mass;
        var (prefix, above) = NucleusBoundary(target);

        // Tokens in the boundary bucket are ranked exactly; the nucleus takes them best first while short of target.
        var c = 0;
        for (var i = 0; i < _vocab; i++)
            if (BitConverter.SingleToUInt32Bits(_prob[i]) >> BoundaryShift == prefix) _keys[c++] = RankKey.Make(logits[i], i);
        var boundary = _keys.AsSpan(0, c);
        boundary.Sort();
        double cum = above;
        var take = 0;
        while (take < c && cum < target) cum += _prob[RankKey.Id(boundary[take++])];
        for (var j = take; j < c; j++) _prob[RankKey.Id(boundary[j])] = 0f;

        double kept = 0;
        for (var i = 0; i < _vocab; i++)
        {
            var pr = _prob[i];
            if (pr != 0f && BitConverter.SingleToUInt32Bits(pr) >> BoundaryShift >= prefix) { kept += pr; continue; }
            _prob[i] = 0f;
            logits[i] = float.NegativeInfinity;
        }
        _mass = kept;
    }

    // Probabilities are positive floats, so their bit patterns sort like their values: a two-level radix select on
    // the top 24 bits finds the bucket where the best-first cumulative mass reaches the target, in two passes and
    // without sorting. Returns that bucket (top 24 bits) and the mass of all strictly better buckets.
    private const int BoundaryShift = 8;

    private (uint Prefix, double Above) NucleusBoundary(double target)
    {
        var hist = _histogram.AsSpan();
        hist.Clear();
        foreach (var pr in _prob.AsSpan(0, _vocab)) hist[(int)(BitConverter.SingleToUInt32Bits(pr) >> 20)] += pr;
        double above = 0;
        var high = FindBucket(hist[..2048], target, ref above);

        hist.Clear();
        foreach (var pr in _prob.AsSpan(0, _vocab))
        {
            var bits = BitConverter.SingleToUInt32Bits(pr);
            if (bits >> 20 == high) hist[(int)((bits >> BoundaryShift) & 0xFFF)] += pr;
        }
        var low = FindBucket(hist, target, ref above);
        return (((uint)high << 12) | (uint)low, above);
    }

    // Highest-first walk over bucket masses; stops at the bucket that reaches target (or the lowest, if rounding
    // keeps the total just short), leaving in 'above' the mass of the buckets before it.
    private static int FindBucket(ReadOnlySpan<double> hist, double target, ref double above)
    {
        var b = hist.Length - 1;
        for (; b > 0; b--)
        {
            if (above + hist[b] >= target) return b;
            above += hist[b];
        }
        return 0;
    }

    private static int NucleusLength(ReadOnlySpan<float> probsBestFirst, double target, out double keptMass)
    {
        double cum = 0;
        var n = 0;
        while (n < probsBestFirst.Length && cum < target) cum += probsBestFirst[n++];
        keptMass = cum;
        return n;
    }

    // p_max is exp(0) up to the exponential's last-bit rounding, so it is read back rather than assumed to be 1.
    private void MinP(Span<float> logits)
    {
        if (_sorted)
        {
            var threshold = _p.MinP * _prob[0];
            var n = _count;
            while (n > 1 && _prob[n - 1] < threshold) n--;
            double mass = 0;
            for (var j = 0; j < n; j++) mass += _prob[j];
            _count = n;
            _mass = mass;
            return;
        }
        var cut = _p.MinP * Kernels.Max(_prob);
        double kept = 0;
        for (var i = 0; i < _vocab; i++)
        {
            if (_prob[i] < cut) { _prob[i] = 0f; logits[i] = float.NegativeInfinity; }
            else kept += _prob[i];
        }
        _mass = kept;
    }

    private void MaskOutsideCandidates(Span<float> logits)
    {
        logits.Fill(float.NegativeInfinity);
        for (var j = 0; j < _count; j++)
            logits[RankKey.Id(_keys[j])] = RankKey.Logit(_keys[j]);
    }

    private int Pick()
    {
        var u = _rng.NextDouble() * _mass;
        double cum = 0;
        if (_sorted)
        {
            for (var j = 0; j < _count; j++)
                if (u < (cum += _prob[j])) return RankKey.Id(_keys[j]);
            var k = _count - 1;
            while (k > 0 && _prob[k] == 0f) k--; // never hand out a token of probability 0
            return RankKey.Id(_keys[k]);
        }
        var last = 0;
        for (var i = 0; i < _vocab; i++)
        {
            var p = _prob[i];
            if (p == 0f) continue;
            last = i;
            if (u < (cum += p)) return i;
        }
        return last; // rounding left u at the very top of the mass
    }

    private static NoSamplableTokenException NoCandidates() => new();
}
