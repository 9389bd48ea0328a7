namespace Loom.Models.Architectures;

/// <summary>
/// One ragged batch for a forward pass: several sequences, each contributing a run of consecutive tokens
/// (one for a decode, a chunk for a prefill) and the block table through which its K/V are stored and read.
/// Reused from step to step, so filling it allocates nothing once its arrays have grown.
/// </summary>
public sealed class ForwardBatch
{
    private int[] _tokens = new int[64], _positions = new int[64], _tokenSeq = new int[64];
    private int[] _seqStart = new int[8], _seqLen = new int[8];
    private bool[] _seqAsDecodes = new bool[8];
    private int[][] _blockTables = new int[8][], _groupTables = new int[8][];
    private int[] _logitTokens = new int[8];

    public int TokenCount { get; private set; }
    public int SeqCount { get; private set; }
    /// <summary>Number of tokens whose logits the forward pass returns.</summary>
    public int LogitCount { get; private set; }

    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, TokenCount);
    public ReadOnlySpan<int> Positions => _positions.AsSpan(0, TokenCount);
    /// <summary>Index of the sequence each token belongs to.</summary>
    public ReadOnlySpan<int> TokenSeq => _tokenSeq.AsSpan(0, TokenCount);
    /// <summary>Batch indices of the tokens whose logits are wanted, in output order.</summary>
    public ReadOnlySpan<int> LogitTokens => _logitTokens.AsSpan(0, LogitCount);

    public int SeqTokenStart(int seq) => _seqStart[seq];
    public int SeqTokenCount(int seq) => _seqLen[seq];
    /// <summary>
    /// Whether the sequence's tokens are each summed as a lone decode token is (one token, or a run added with
    /// <c>asDecodes</c>): llama.cpp's single-token order in the products and in attention, per token.
    /// </summary>
    public bool SumsAsDecodes(int seq) => _seqLen[seq] == 1 || _seqAsDecodes[seq];
    /// <summary>Cache blocks of the sequence, in position order; must cover every position up to the last token in the batch.</summary>
    public int[] BlockTable(int seq) => _blockTables[seq];

    /// <summary>
    /// The sequence's table for cache group <paramref name="group"/> (<see cref="KvCache.GroupOf"/>): group 1 is the
    /// sliding layers' own pool, whose entries out of the window point to its null block and are never read.
    /// </summary>
    public int[] BlockTable(int seq, int group) => group == 0 ? _blockTables[seq]
        : _groupTables[seq] ?? throw new InvalidOperationException("the KV cache has a second group but the batch has no table for it");

    public void Clear()
    {
        TokenCount = SeqCount = LogitCount = 0;
        Array.Clear(_blockTables, 0, _blockTables.Length);
        Array.Clear(_groupTables, 0, _groupTables.Length);
    }

    /// <summary>
    /// Adds a sequence's run of <paramref name="tokens"/> starting at position <paramref name="startPos"/>.
    /// <paramref name="logits"/>: none, only the last token's, or every token's (verifying speculated tokens).
    /// <paramref name="asDecodes"/>: sum each token as a lone decode token (a speculative verification, whose every
    /// row must give the numbers decoding that token alone would, or greedy output could change on a near tie).
    /// Returns the sequence's index in the batch.
    /// </summary>
    public int Add(ReadOnlySpan<int> tokens, int startPos, int[] blockTable, LogitRequest logits = LogitRequest.Last, bool asDecodes = false) =>
        Add(tokens, startPos, blockTable, null, logits, asDecodes);

    /// <summary>As the other overload, with the sequence's table for cache group 1 (<paramref name="groupTable"/>; null when the cache has one group).</summary>
    public int Add(ReadOnlySpan<int> tokens, int startPos, int[] blockTable, int[]? groupTable, LogitRequest logits, bool asDecodes = false)
    {
        if (tokens.IsEmpty) throw new ArgumentException("a sequence contributes at least one token", nameof(tokens));
        int seq = SeqCount++;
        Grow(ref _seqStart, SeqCount); Grow(ref _seqLen, SeqCount); Grow(ref _blockTables, SeqCount); Grow(ref _groupTables, SeqCount); Grow(ref _seqAsDecodes, SeqCount);
        _seqStart[seq] = TokenCount; _seqLen[seq] = tokens.Length; _blockTables[seq] = blockTable; _groupTables[seq] = groupTable!; _seqAsDecodes[seq] = asDecodes;
        int need = TokenCount + tokens.Length;
        Grow(ref _tokens, need); Grow(ref _positions, need); Grow(ref _tokenSeq, need);
        for (int i = 0; i < tokens.Length; i++)
        {
            int t = TokenCount + i;
            _tokens[t] = tokens[i]; _positions[t] = startPos + i; _tokenSeq[t] = seq;
        }
        if (logits == LogitRequest.All)
        {
            Grow(ref _logitTokens, LogitCount + tokens.Length);
            for (int t = TokenCount; t < need; t++) _logitTokens[LogitCount++] = t;
        }
        else if (logits == LogitRequest.Last)
        {
            Grow(ref _logitTokens, LogitCount + 1);
            _logitTokens[LogitCount++] = need - 1;
        }
        TokenCount = need;
        return seq;
    }

    private static void Grow<T>(ref T[] a, int n)
    {
        if (a.Length < n) Array.Resize(ref a, Math.Max(n, a.Length * 2));
    }
}

/// <summary>Which of a sequence's tokens produce logits.</summary>
public enum LogitRequest { None, Last, All }
