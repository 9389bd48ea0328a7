namespace Loom.Models.Tokenizers;

/// <summary>
/// llama.cpp's SentencePiece-style encoder: start from single code points, repeatedly merge the adjacent pair whose
/// concatenation is the highest-scoring token (ties to the leftmost), then spell pieces that are not tokens as byte tokens.
/// </summary>
internal sealed class SpmEncoder(Vocabulary vocab)
{
    private struct Symbol
    {
        public int Prev, Next, Start, Length;
    }

    private readonly record struct Bigram(int Left, int Right, int Size);

    /// <summary>Orders the queue so the best bigram (highest score, then lowest left index) comes out first.</summary>
    private sealed class BestFirst : IComparer<(float Score, int Left)>
    {
        public static readonly BestFirst Instance = new();
        public int Compare((float Score, int Left) a, (float Score, int Left) b)
        {
            int c = b.Score.CompareTo(a.Score);
            return c != 0 ? c : a.Left.CompareTo(b.Left);
        }
    }

    public void Encode(string text, List<int> output)
    {
        if (text.Length == 0) return;
        var symbols = new List<Symbol>(text.Length);
        for (int i = 0; i < text.Length;)
        {
            int len = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            int index = symbols.Count;
            symbols.Add(new Symbol { Prev = index - 1, Next = i + len == text.Length ? -1 : index + 1, Start = i, Length = len });
            i += len;
        }

        var queue = new PriorityQueue<Bigram, (float, int)>(BestFirst.Instance);
        var syms = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(symbols);
        for (int i = 1; i < syms.Length; i++) TryAdd(text, symbols, queue, i - 1, i);

        while (queue.TryDequeue(out var bigram, out _))
        {
            syms = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(symbols);
            ref var left = ref syms[bigram.Left];
            ref var right = ref syms[bigram.Right];
            if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != bigram.Size) continue;
            left.Length += right.Length;
            right.Length = 0;
            left.Next = right.Next;
            if (right.Next >= 0) syms[right.Next].Prev = bigram.Left;
            int leftPrev = left.Prev, leftNext = left.Next;
            TryAdd(text, symbols, queue, leftPrev, bigram.Left);
            TryAdd(text, symbols, queue, bigram.Left, leftNext);
        }

        // llama.cpp also keeps a reverse-merge map for pieces that are not tokens, but only merged pieces
        // (always tokens) can be in it, so unmatched pieces are single code points and go straight to bytes.
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i != -1; i = symbols[i].Next)
        {
            var s = symbols[i];
            var piece = text.AsSpan(s.Start, s.Length);
            int id = vocab.Find(piece);
            if (id >= 0) { output.Add(id); continue; }
            int n = System.Text.Encoding.UTF8.GetBytes(piece, utf8);
            for (int b = 0; b < n; b++) output.Add(vocab.ByteToken(utf8[b]));
        }
    }

    private void TryAdd(string text, List<Symbol> symbols, PriorityQueue<Bigram, (float, int)> queue, int left, int right)
    {
        if (left == -1 || right == -1) return;
        var l = symbols[left];
        var r = symbols[right];
        int id = vocab.Find(text.AsSpan(l.Start, l.Length + r.Length));
        if (id < 0) return;
        queue.Enqueue(new Bigram(left, right, l.Length + r.Length), (vocab.Scores[id], left));
    }
}
