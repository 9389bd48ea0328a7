namespace Loom.Models.Synthetic;

/// <summary>
/// A small but real SentencePiece ("llama" model) vocabulary for synthetic models: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;,
/// the 256 byte-fallback tokens, "▁", printable ASCII, then common English pieces (with every prefix, so the
/// tokenizer's pairwise merges can reach them) with descending scores, padded with unused placeholders.
/// </summary>
public static class SyntheticModelVocab
{
    /// <summary>Token types as llama.cpp numbers them.</summary>
    public const int Normal = 1, Unknown = 2, Control = 3, Unused = 5, Byte = 6;

    public const int UnkId = 0, BosId = 1, EosId = 2;

    private static readonly string[] Words =
    [
        "the", "a", "and", "to", "of", "in", "was", "he", "she", "it", "is", "that", "with", "for", "on", "they", "his", "her",
        "Once", "upon", "time", "there", "little", "girl", "boy", "day", "big", "happy", "said", "saw", "play", "wanted",
        "friend", "mom", "very", "had", "were", "but", "so", "Lily", "Tim", "Ben", "name", "named", "went", "park", "toy",
        "tree", "dog", "cat", "sun", "you", "I", "we", "not", "all", "can", "be", "at", "one", "do", "go", "up", "out",
    ];

    private static readonly string[] Suffixes = ["ing", "ed", "er", "ly", "s", "es", "en", "le", "y", "ion", "est", "ful"];

    /// <summary>Builds exactly <paramref name="vocabSize"/> tokens with their scores and types.</summary>
    public static (string[] Tokens, float[] Scores, int[] Types) Build(int vocabSize)
    {
        if (vocabSize < SyntheticModelSpec.MinVocabSize) throw new ArgumentOutOfRangeException(nameof(vocabSize));
        var tokens = new List<string>(vocabSize) { "<unk>", "<s>", "</s>" };
        var types = new List<int>(vocabSize) { Unknown, Control, Control };
        for (int b = 0; b < 256; b++) { tokens.Add($"<0x{b:X2}>"); types.Add(Byte); }

        var seen = new HashSet<string>(tokens, StringComparer.Ordinal);
        var pieces = new List<string> { "▁" };
        for (char c = '!'; c <= '~'; c++) pieces.Add(c.ToString());
        foreach (var w in Words) pieces.Add("▁" + w);
        pieces.AddRange(Suffixes);
        foreach (var p in pieces)
        {
            // Prefixes first, so every multi-character piece is reachable one merge at a time.
            for (int len = 1; len <= p.Length; len++)
            {
                var prefix = p[..len];
                if (tokens.Count < vocabSize && seen.Add(prefix)) { tokens.Add(prefix); types.Add(Normal); }
            }
        }
        for (int i = 0; tokens.Count < vocabSize; i++)
        {
            var placeholder = $"<unused{i}>";
            if (seen.Add(placeholder)) { tokens.Add(placeholder); types.Add(Unused); }
        }

        var scores = new float[vocabSize];
        int rank = 0;
        for (int i = 0; i < vocabSize; i++)
            scores[i] = types[i] is Normal ? -rank++ : types[i] is Unused ? -1e9f : 0f;
        return (tokens.ToArray(), scores, types.ToArray());
    }
}
