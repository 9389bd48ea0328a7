using System.Text;

namespace Loom.Models.Tokenizers;

/// <summary>
/// Turns tokens into text as they arrive. <see cref="Add"/> returns only completed text: a UTF-8 character split across
/// byte tokens waits for its last byte, and with space cleaning a tail that later bytes could still change waits too.
/// The outputs of all <see cref="Add"/> calls plus <see cref="Flush"/> equal <see cref="Tokenizer.Decode"/> of the same ids.
/// </summary>
public sealed class IncrementalDecoder
{
    private readonly Tokenizer _tokenizer;
    private readonly bool _skipSpecial;
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private readonly List<byte> _pending = new();
    private readonly bool _continuesText;
    private bool _first = true;

    internal IncrementalDecoder(Tokenizer tokenizer, bool skipSpecial, bool continuesText = false)
    {
        _tokenizer = tokenizer;
        _skipSpecial = skipSpecial;
        _continuesText = continuesText;
        _first = !continuesText;
    }

    /// <summary>Adds one token; returns the text it completes (possibly empty).</summary>
    public string Add(int id)
    {
        _pending.AddRange(_tokenizer.PieceBytes(id, _first, _skipSpecial));
        _first = false;
        int commit = _pending.Count;
        if (_tokenizer.CleanSpaces)
        {
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending);
            commit = 0;
            for (int k = span.Length - 1; k >= 3; k--)
                if (SpaceCleaner.IsCutPoint(span, k)) { commit = k; break; }
        }
        return Emit(commit, flush: false);
    }

    /// <summary>Returns whatever is still held back (an incomplete character becomes U+FFFD, as in Decode) and resets.</summary>
    public string Flush()
    {
        string s = Emit(_pending.Count, flush: true);
        _first = !_continuesText;
        return s;
    }

    private string Emit(int count, bool flush)
    {
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending)[..count];
        int n = _tokenizer.CleanSpaces ? SpaceCleaner.Clean(span) : count;
        var chars = new char[_utf8.GetCharCount(span[..n], flush)];
        int written = _utf8.GetChars(span[..n], chars, flush);
        _pending.RemoveRange(0, count);
        return new string(chars, 0, written);
    }
}
