namespace Loom.Models.Tokenizers;

/// <summary>Token strings, scores and attributes with a string-to-id map that looks up spans without allocating.</summary>
internal sealed class Vocabulary
{
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int[] _byteTokens = new int[256];

    public Vocabulary(VocabSpec spec)
    {
        Tokens = spec.Tokens;
        Scores = spec.Scores;
        Attributes = spec.Attributes;
        Kind = spec.Kind;
        _ids = new Dictionary<string, int>(Tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < Tokens.Length; i++)
        {
            // llama.cpp gives empty strings a placeholder so every id has a distinct, non-empty text.
            if (Tokens[i].Length == 0) Tokens[i] = $"[EMPTY_{i}]";
            _ids[Tokens[i]] = i;
            MaxTokenBytes = Math.Max(MaxTokenBytes, System.Text.Encoding.UTF8.GetByteCount(Tokens[i]));
        }
        _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        for (int b = 0; b < 256; b++) _byteTokens[b] = FindByteToken((byte)b);
    }

    public TokenizerKind Kind { get; }
    public string[] Tokens { get; }
    public float[] Scores { get; }
    public TokenAttributes[] Attributes { get; }
    public int Count => Tokens.Length;
    public int MaxTokenBytes { get; }

    /// <summary>Set by the tokenizer: what a byte without a byte token turns into (llama.cpp aborts instead).</summary>
    public int ByteFallbackUnknown { get; set; } = -1;

    public int Find(ReadOnlySpan<char> text) => _lookup.TryGetValue(text, out int id) ? id : -1;

    public int Find(string text) => _ids.TryGetValue(text, out int id) ? id : -1;

    /// <summary>llama.cpp's byte_to_token: <c>&lt;0xXX&gt;</c> for SPM/WPM-style vocabularies, the byte-level character for BPE.</summary>
    public int ByteToken(byte b)
    {
        int id = _byteTokens[b];
        if (id >= 0) return id;
        if (ByteFallbackUnknown >= 0) return ByteFallbackUnknown;
        throw new InvalidOperationException($"the vocabulary has no token for byte 0x{b:X2} and no unknown token");
    }

    private int FindByteToken(byte b)
    {
        if (Kind == TokenizerKind.Bpe) return Find(ByteLevel.ByteToChar[b].ToString());
        int id = Find($"<0x{b:X2}>");
        if (id >= 0 || b >= 0x80) return id;
        return Find(((char)b).ToString());
    }
}
