namespace Loom.Engine.Speculative;

/// <summary>
/// One sequence's speculation: this step's draft, laid out after the sequence's last token so the verification
/// chunk's tokens are one contiguous run, its current draft length, and its counts for the request's usage.
/// </summary>
internal sealed class SpeculationState(int maxTokens)
{
    // [0] = the sequence's last token (not yet in the cache), [1..DraftCount] = the proposal.
    private readonly int[] _verify = new int[maxTokens + 1];
    // Per draft token, its row of this step's draft distributions (DraftSampler), or -1 for a point-mass draft.
    private readonly int[] _rows = new int[maxTokens];

    /// <summary>Kinds of evidence a proposal can cite (<see cref="ISpeculativeProposer.Propose"/>); the drafters' is 0.</summary>
    public const int Kinds = 8;

    // Per kind: the draft length allowed next (adapts to acceptance), and recent accepted and rejected draft tokens,
    // decayed per verification. A draft run is accepted token by token until its first rejection, so accepted /
    // (accepted + rejections) estimates the per-token acceptance.
    private readonly int[] _k = Enumerable.Repeat(maxTokens, Kinds).ToArray();
    private readonly double[] _recentAccepted = new double[Kinds], _recentRejected = new double[Kinds];
    private int _kind;

    /// <summary>Draft length a drafter (kind 0) is asked for next (adapts to acceptance).</summary>
    public int K => _k[0];
    public int MaxTokens { get; } = maxTokens;
    /// <summary>Tokens of this step's proposal.</summary>
    public int DraftCount { get; private set; }
    public ReadOnlySpan<int> Draft => _verify.AsSpan(1, DraftCount);
    /// <summary>The last token followed by the first <paramref name="draft"/> draft tokens: what the verification pass runs.</summary>
    public ReadOnlySpan<int> VerifyTokens(int draft) => _verify.AsSpan(0, 1 + draft);

    /// <summary>
    /// Estimated probability that a token of this step's draft is accepted given the one before it was: its kind's
    /// recent rate, Laplace-smoothed towards the sequence's rate over every kind, so a kind seen rarely borrows what
    /// the others show.
    /// </summary>
    public double Acceptance
    {
        get
        {
            double a = 0, r = 0;
            for (int i = 0; i < Kinds; i++) { a += _recentAccepted[i]; r += _recentRejected[i]; }
            double prior = (a + 1) / (a + r + 2);
            return (_recentAccepted[_kind] + 2 * prior) / (_recentAccepted[_kind] + _recentRejected[_kind] + 2);
        }
    }

    /// <summary>Its block table and progress in a separate draft model's cache (<see cref="DraftModelDrafter"/>); null otherwise.</summary>
    public Sequence? DraftShadow { get; set; }

    /// <summary>Draft tokens verified over the sequence's life.</summary>
    public int Proposed { get; private set; }
    /// <summary>Draft tokens the target accepted.</summary>
    public int Accepted { get; private set; }

    /// <summary>
    /// Asks <paramref name="proposer"/> for up to <paramref name="limit"/> tokens after <paramref name="tokens"/>, and
    /// keeps as many as the proposal's kind is allowed.
    /// </summary>
    public int Propose(ISpeculativeProposer proposer, ReadOnlySpan<int> tokens, int limit)
    {
        _verify[0] = tokens[^1];
        _kind = 0;
        if (limit <= 0) return DraftCount = 0;
        int count = proposer.Propose(tokens, _verify.AsSpan(1, Math.Min(limit, MaxTokens)), out int kind);
        _kind = Math.Clamp(kind, 0, Kinds - 1);
        DraftCount = Math.Min(count, _k[_kind]);
        _rows.AsSpan(0, DraftCount).Fill(-1);
        return DraftCount;
    }

    public void Clear() => DraftCount = 0;

    /// <summary>Holds <paramref name="count"/> draft slots after <paramref name="tokens"/>' last token, for a drafter that fills them once they are scheduled.</summary>
    public int Reserve(ReadOnlySpan<int> tokens, int count)
    {
        _verify[0] = tokens[^1];
        _kind = 0;
        DraftCount = Math.Clamp(Math.Min(count, _k[0]), 0, MaxTokens);
        _rows.AsSpan(0, DraftCount).Fill(-1);
        return DraftCount;
    }

    /// <summary>
    /// Sets draft token <paramref name="j"/>: drawn from row <paramref name="row"/> of this step's draft
    /// distributions (<see cref="DraftSampler"/>), or a point mass (-1: a guess that depends on nothing random).
    /// </summary>
    public void SetDraft(int j, int token, int row = -1)
    {
        _verify[1 + j] = token;
        _rows[j] = row;
    }

    /// <summary>The draft-distribution row draft token <paramref name="j"/> was drawn from; -1 for a point mass.</summary>
    public int DraftRow(int j) => _rows[j];

    /// <summary>Keeps the first <paramref name="count"/> tokens of the draft (the back-off's grant).</summary>
    public void Trim(int count) => DraftCount = Math.Min(DraftCount, Math.Max(0, count));

    /// <summary>Counts <paramref name="verified"/> draft tokens about to be verified.</summary>
    public void BeginVerify(int verified) => Proposed += verified;

    /// <summary>Counts one draft token the target drew.</summary>
    public void CountAccepted() => Accepted++;

    /// <summary>Ends a verification that accepted <paramref name="accepted"/> of <paramref name="verified"/> tokens, adapting <see cref="K"/>.</summary>
    public void EndVerify(int verified, int accepted, bool adaptive)
    {
        DraftCount = 0;
        _recentAccepted[_kind] = 0.8 * _recentAccepted[_kind] + accepted;
        _recentRejected[_kind] = 0.8 * _recentRejected[_kind] + (accepted < verified ? 1 : 0);
        ref int k = ref _k[_kind];
        if (adaptive && verified > 0) k = accepted == verified ? Math.Min(MaxTokens, k + 1) : Math.Max(1, accepted + 1);
    }
}
