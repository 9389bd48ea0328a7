using System.Globalization;
using System.Text;
using Loom.Models.Tokenizers;

namespace Loom.Server.Generation;

/// <summary>
/// A single token as log-probability listings show it: its text (with the leading space a SentencePiece "▁" stands
/// for, which a whole-sequence decode drops at the start) and its UTF-8 bytes (the real byte for a byte-fallback token).
/// </summary>
internal static class TokenText
{
    public static string Text(Tokenizer tokenizer, int id)
    {
        string text = tokenizer.Decode([id], skipSpecial: false);
        string piece = tokenizer.TokenPiece(id);
        if (piece.StartsWith('\u2581') && !text.StartsWith(' ')) text = " " + text;
        return text;
    }

    public static int[] Bytes(Tokenizer tokenizer, int id)
    {
        string piece = tokenizer.TokenPiece(id);
        if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.HexNumber, null, out byte b))
            return [b];
        return Encoding.UTF8.GetBytes(Text(tokenizer, id)).Select(x => (int)x).ToArray();
    }
}
