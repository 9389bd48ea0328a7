using System.Text;

namespace Loom.Models.Tokenizers;

/// <summary>
/// llama.cpp's WordPiece: NFD-strip and lowercase, split on whitespace and around punctuation/CJK, then match each word
/// (with a leading ▁) greedily by longest token; a word with an unmatched position becomes the unknown token.
/// </summary>
internal sealed class WpmEncoder(Vocabulary vocab, int unknownId)
{
    public void Encode(string text, List<int> output)
    {
        foreach (var word in Preprocess(text))
        {
            if (word.Length == 0) continue;
            string w = "\u2581" + word;
            int before = output.Count;
            for (int i = 0; i < w.Length;)
            {
                int best = -1, bestEnd = -1, bytes = 0;
                // Candidate ends on code point boundaries; no token is longer than MaxTokenBytes.
                for (int j = i; j < w.Length;)
                {
                    int len = char.IsHighSurrogate(w[j]) && j + 1 < w.Length ? 2 : 1;
                    bytes += Encoding.UTF8.GetByteCount(w.AsSpan(j, len));
                    j += len;
                    if (bytes > vocab.MaxTokenBytes) break;
                    int id = vocab.Find(w.AsSpan(i, j - i));
                    if (id >= 0) { best = id; bestEnd = j; }
                }
                if (best < 0) { output.RemoveRange(before, output.Count - before); break; }
                output.Add(best);
                i = bestEnd;
            }
            if (output.Count == before) output.Add(unknownId);
        }
    }

    internal static List<string> Preprocess(string text)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        foreach (int raw in UnicodeFlags.CodePoints(text))
        {
            int cp = NfdTable.FirstCodePoint(raw);
            ushort f = UnicodeFlags.Get(cp);
            if ((f & UnicodeFlags.Whitespace) != 0)
            {
                if (current.Length > 0) { words.Add(current.ToString()); current.Clear(); }
                continue;
            }
            if (cp == 0 || cp == 0xFFFD || (f & UnicodeFlags.Control) != 0) continue;
            string s = char.ConvertFromUtf32(UnicodeFlags.ToLower(cp));
            if ((f & UnicodeFlags.Punctuation) != 0 || (cp < 0x7F && (f & UnicodeFlags.Symbol) != 0) || IsChinese(cp))
            {
                if (current.Length > 0) { words.Add(current.ToString()); current.Clear(); }
                words.Add(s);
            }
            else current.Append(s);
        }
        if (current.Length > 0) words.Add(current.ToString());
        return words;
    }

    private static bool IsChinese(int c) =>
        c is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B920 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
