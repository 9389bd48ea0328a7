using System.Text;

namespace Loom.Models.Tokenizers;

/// <summary>
/// Every token's detokenized bytes, computed once (llama.cpp's token_to_piece with special = true), plus which
/// tokens print nothing when specials are skipped (control and unknown).
/// </summary>
internal sealed class TokenPieces
{
    private readonly byte[][] _bytes;
    private readonly bool[] _hiddenUnlessSpecial;

    public TokenPieces(Vocabulary vocab)
    {
        _bytes = new byte[vocab.Count][];
        _hiddenUnlessSpecial = new bool[vocab.Count];
        for (int id = 0; id < vocab.Count; id++)
        {
            var attr = vocab.Attributes[id];
            _hiddenUnlessSpecial[id] = (attr & (TokenAttributes.Unknown | TokenAttributes.Control)) != 0;
            _bytes[id] = Compute(vocab.Kind, vocab.Tokens[id], attr);
        }
    }

    /// <summary>The piece's bytes; empty for a hidden special when <paramref name="special"/> is false.</summary>
    public ReadOnlySpan<byte> Get(int id, bool special) =>
        !special && _hiddenUnlessSpecial[id] ? default : _bytes[id];

    private static byte[] Compute(TokenizerKind kind, string text, TokenAttributes attr)
    {
        const TokenAttributes verbatim = TokenAttributes.Unknown | TokenAttributes.Control | TokenAttributes.UserDefined;
        if ((attr & verbatim) != 0) return Encoding.UTF8.GetBytes(text);
        if (kind == TokenizerKind.Bpe)
            return (attr & TokenAttributes.Normal) != 0 ? DecodeByteLevel(text) : [];
        if ((attr & TokenAttributes.Normal) != 0) return Encoding.UTF8.GetBytes(text.Replace('\u2581', ' '));
        if ((attr & TokenAttributes.Byte) != 0 && text.Length >= 5 &&
            byte.TryParse(text.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b))
            return [b];
        return [];
    }

    /// <summary>Byte-level characters back to bytes; llama.cpp spells characters outside the map as [UNK_BYTE_0x..].</summary>
    private static byte[] DecodeByteLevel(string text)
    {
        var result = new List<byte>(text.Length);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.IsBmp && ByteLevel.TryCharToByte((char)rune.Value, out byte b)) { result.Add(b); continue; }
            var sb = new StringBuilder("[UNK_BYTE_0x");
            int n = rune.EncodeToUtf8(utf8);
            for (int i = 0; i < n; i++) sb.Append(utf8[i].ToString("x2"));
            sb.Append(text).Append(']');
            result.AddRange(Encoding.UTF8.GetBytes(sb.ToString()));
        }
        return [.. result];
    }
}
