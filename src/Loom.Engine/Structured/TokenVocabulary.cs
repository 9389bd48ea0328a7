using Loom.Models.Tokenizers;

namespace Loom.Engine.Structured;

/// <summary>
/// A vocabulary as constrained decoding sees it, computed once per tokenizer: each token's bytes (what it adds to the
/// generated text: byte-level BPE pieces decoded to bytes, SentencePiece pieces with ▁ as a space and byte-fallback
/// tokens as their single byte) and a byte trie over them, laid out in preorder, so that tokens sharing a prefix
/// are checked against a grammar once per shared byte. Control tokens, which add no text, stand as
/// <see cref="ControlTokenBytes"/>, which only a grammar naming the token matches; end-of-generation tokens are not
/// in the trie and are allowed exactly where the output is complete.
/// </summary>
public sealed class TokenVocabulary
{
    private readonly byte[][] _bytes;

    /// <summary>Builds the vocabulary of <paramref name="tokenizer"/> for logits rows of <paramref name="logitsSize"/> (ids past the tokenizer are never allowed).</summary>
    public TokenVocabulary(Tokenizer tokenizer, int logitsSize)
        : this(Enumerable.Range(0, logitsSize).Select(id => id >= tokenizer.VocabSize ? []
                   : tokenizer.TokenBytes(id) is { IsEmpty: false } b ? b.ToArray()
                   : tokenizer.IsEndOfGeneration(id) ? [] : ControlTokenBytes(id)).ToArray(),
               tokenizer.EndOfGenerationIds.Where(id => id < logitsSize))
    {
    }

    /// <summary>
    /// The bytes that stand for control token <paramref name="id"/> (one that adds no text, such as Mistral's
    /// [TOOL_CALLS]) to a constraint: 0xFF, which no UTF-8 text contains, then the id in three 7-bit digits. Only a
    /// grammar that names the token (GBNF <c>&lt;[id]&gt;</c>) reaches these bytes, so every other constraint still never
    /// allows a control token; a tool-call grammar uses them for a format whose call opens with one.
    /// </summary>
    public static byte[] ControlTokenBytes(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, 1 << 21);
        return [0xFF, (byte)(0x80 | ((id >> 14) & 0x7F)), (byte)(0x80 | ((id >> 7) & 0x7F)), (byte)(0x80 | (id & 0x7F))];
    }

    /// <summary>A vocabulary of the given token bytes (empty: a token that adds nothing) and end-of-generation ids.</summary>
    public TokenVocabulary(byte[][] tokenBytes, IEnumerable<int> endOfGeneration)
    {
        ArgumentNullException.ThrowIfNull(tokenBytes);
        Size = tokenBytes.Length;
        _bytes = tokenBytes;
        var ids = new List<int>(Size);
        for (int id = 0; id < Size; id++) if (_bytes[id].Length > 0) ids.Add(id);
        EndOfGeneration = endOfGeneration.Distinct().Order().ToArray();
        var sorted = ids.ToArray();
        Array.Sort(sorted, (a, b) =>
        {
            int c = _bytes[a].AsSpan().SequenceCompareTo(_bytes[b]);
            return c != 0 ? c : a.CompareTo(b);
        });
        Sorted = sorted;
        BuildTrie();
    }

    /// <summary>Length of a logits row (the model's vocabulary, which may exceed the tokenizer's).</summary>
    public int Size { get; }

    /// <summary>Ids that end generation.</summary>
    public int[] EndOfGeneration { get; }

    /// <summary>The bytes token <paramref name="id"/> adds (empty for control tokens).</summary>
    public ReadOnlySpan<byte> Bytes(int id) => _bytes[id];

    /// <summary>Tokens that add bytes, sorted by their bytes.</summary>
    internal int[] Sorted { get; }

    // The trie, in preorder: node i has byte Label[i] at depth Depth[i] (1 = a first byte); its subtree is the nodes
    // i..SubtreeEnd[i]-1 and holds the tokens Sorted[TokenStart[i]..TokenStart[SubtreeEnd[i]]), the first EndCount[i]
    // of which end at node i. TokenStart has one more entry, for the end.
    internal byte[] Label = [];
    internal int[] Depth = [];
    internal int[] SubtreeEnd = [];
    internal int[] TokenStart = [];
    internal int[] EndCount = [];
    internal int NodeCount;

    /// <summary>Longest token, in bytes.</summary>
    public int MaxTokenBytes { get; private set; }

    private void BuildTrie()
    {
        var label = new List<byte>();
        var depth = new List<int>();
        var end = new List<int>();
        var start = new List<int>();
        var count = new List<int>();
        var path = new List<int>();
        byte[] prev = [];
        for (int k = 0; k < Sorted.Length; k++)
        {
            var b = _bytes[Sorted[k]];
            MaxTokenBytes = Math.Max(MaxTokenBytes, b.Length);
            int l = 0;
            int max = Math.Min(prev.Length, b.Length);
            while (l < max && prev[l] == b[l]) l++;
            while (path.Count > l)
            {
                end[path[^1]] = label.Count;
                path.RemoveAt(path.Count - 1);
            }
            for (int j = l; j < b.Length; j++)
            {
                path.Add(label.Count);
                label.Add(b[j]);
                depth.Add(j + 1);
                end.Add(-1);
                start.Add(k);
                count.Add(0);
            }
            count[path[^1]]++;
            prev = b;
        }
        while (path.Count > 0)
        {
            end[path[^1]] = label.Count;
            path.RemoveAt(path.Count - 1);
        }
        NodeCount = label.Count;
        start.Add(Sorted.Length);
        Label = [.. label];
        Depth = [.. depth];
        SubtreeEnd = [.. end];
        TokenStart = [.. start];
        EndCount = [.. count];
    }

    /// <summary>Length of the common prefix of two tokens' bytes.</summary>
    internal int CommonPrefix(int a, int b)
    {
        var x = _bytes[a];
        var y = _bytes[b];
        int n = Math.Min(x.Length, y.Length), i = 0;
        while (i < n && x[i] == y[i]) i++;
        return i;
    }
}
