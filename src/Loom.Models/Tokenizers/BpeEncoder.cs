using System.Collections.Concurrent;

namespace Loom.Models.Tokenizers;

/// <summary>
/// llama.cpp's byte-level BPE: each pre-tokenized word starts as single characters and the adjacent pair with the lowest
/// merge rank (ties to the leftmost) merges until none is left. Results are cached per word.
/// </summary>
internal sealed class BpeEncoder
{
    private const int MaxCacheEntries = 1 << 16;

    private readonly Vocabulary _vocab;
    private readonly PreTokenizer _pre;
    private readonly bool _ignoreMerges;
    private readonly Dictionary<string, int> _ranks;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _rankLookup;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    private struct Symbol
    {
        public int Prev, Next, Start, Length;
    }

    private readonly record struct Bigram(int Left, int Right, int Start, int Size);

    private sealed class LowestRankFirst : IComparer<(int Rank, int Left)>
    {
        public static readonly LowestRankFirst Instance = new();
        public int Compare((int Rank, int Left) a, (int Rank, int Left) b)
        {
            int c = a.Rank.CompareTo(b.Rank);
            return c != 0 ? c : a.Left.CompareTo(b.Left);
        }
    }

    public BpeEncoder(Vocabulary vocab, PreTokenizer pre, (string Left, string Right)[] merges, bool ignoreMerges)
    {
        _vocab = vocab;
        _pre = pre;
        _ignoreMerges = ignoreMerges;
        _ranks = new Dictionary<string, int>(merges.Length, StringComparer.Ordinal);
        // Keyed "left right": merge halves never hold a space after their first character, so the key is unambiguous.
        for (int i = 0; i < merges.Length; i++) _ranks.TryAdd(merges[i].Left + " " + merges[i].Right, i);
        _rankLookup = _ranks.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public PreTokenizer PreTokenizer => _pre;

    public void Encode(string text, List<int> output)
    {
        foreach (var word in _pre.Split(text))
        {
            if (!_cache.TryGetValue(word, out var ids))
            {
                ids = EncodeWord(word);
                if (_cache.Count >= MaxCacheEntries) _cache.Clear();
                _cache[word] = ids;
            }
            output.AddRange(ids);
        }
    }

    /// <summary>Merges one byte-level word (uncached).</summary>
    internal int[] EncodeWord(string word)
    {
        if (word.Length == 0) return [];
        if (_ignoreMerges)
        {
            int whole = _vocab.Find(word);
            if (whole >= 0) return [whole];
        }
        var symbols = new Symbol[word.Length];
        for (int i = 0; i < word.Length; i++)
            symbols[i] = new Symbol { Prev = i - 1, Next = i + 1 == word.Length ? -1 : i + 1, Start = i, Length = 1 };

        var queue = new PriorityQueue<Bigram, (int, int)>(LowestRankFirst.Instance);
        for (int i = 1; i < symbols.Length; i++) TryAdd(word, symbols, queue, i - 1, i);

        while (queue.TryDequeue(out var bigram, out _))
        {
            ref var left = ref symbols[bigram.Left];
            ref var right = ref symbols[bigram.Right];
            if (left.Length == 0 || right.Length == 0) continue;
            // Stale when either side changed since the pair was queued.
            if (left.Start != bigram.Start || left.Length + right.Length != bigram.Size || right.Start != left.Start + left.Length) continue;
            left.Length += right.Length;
            right.Length = 0;
            left.Next = right.Next;
            if (right.Next >= 0) symbols[right.Next].Prev = bigram.Left;
            TryAdd(word, symbols, queue, left.Prev, bigram.Left);
            TryAdd(word, symbols, queue, bigram.Left, left.Next);
        }

        var ids = new List<int>();
        for (int i = 0; i != -1; i = symbols[i].Next)
        {
            var s = symbols[i];
            var piece = word.AsSpan(s.Start, s.Length);
            int id = _vocab.Find(piece);
            if (id >= 0) { ids.Add(id); continue; }
            // llama.cpp looks up each UTF-8 byte of the piece alone; only ASCII bytes can be whole tokens.
            foreach (char c in piece)
                if (c < 0x80 && _vocab.Find(c.ToString()) is var b and >= 0) ids.Add(b);
        }
        return [.. ids];
    }

    private void TryAdd(string word, Symbol[] symbols, PriorityQueue<Bigram, (int, int)> queue, int left, int right)
    {
        if (left == -1 || right == -1) return;
        var l = symbols[left];
        var r = symbols[right];
        int rank = Rank(word.AsSpan(l.Start, l.Length), word.AsSpan(r.Start, r.Length));
        if (rank < 0) return;
        queue.Enqueue(new Bigram(left, right, l.Start, l.Length + r.Length), (rank, left));
    }

    private int Rank(ReadOnlySpan<char> left, ReadOnlySpan<char> right)
    {
        int n = left.Length + 1 + right.Length;
        Span<char> key = n <= 256 ? stackalloc char[n] : new char[n];
        left.CopyTo(key);
        key[left.Length] = ' ';
        right.CopyTo(key[(left.Length + 1)..]);
        return _rankLookup.TryGetValue(key, out int rank) ? rank : -1;
    }
}
