using System.Text.Unicode;

namespace Loom.Models.Tokenizers;

/// <summary>
/// Turns tokens into text as they arrive. <see cref="Add(int)"/> returns only completed text: a UTF-8 character split across
/// byte tokens waits for its last byte, and with space cleaning a tail that later bytes could still change waits too.
/// The outputs of all <see cref="Add(int)"/> calls plus <see cref="Flush()"/> equal <see cref="Tokenizer.Decode"/> of the same ids.
/// </summary>
public sealed class IncrementalDecoder
{
    private readonly Tokenizer _tokenizer;
    private readonly bool _skipSpecial;
    private readonly List<byte> _pending = new();
    private readonly bool _continuesText;
    private readonly bool _cleanSpaces;
    private bool _first = true;
    private TextBuffer? _scratch;   // for the string-returning calls only

    internal IncrementalDecoder(Tokenizer tokenizer, bool skipSpecial, bool continuesText = false)
        : this(tokenizer, skipSpecial, continuesText, tokenizer.CleanSpaces)
    {
    }

    internal IncrementalDecoder(Tokenizer tokenizer, bool skipSpecial, bool continuesText, bool cleanSpaces)
    {
        _tokenizer = tokenizer;
        _cleanSpaces = cleanSpaces;
        _skipSpecial = skipSpecial;
        _continuesText = continuesText;
        _first = !continuesText;
    }

    /// <summary>Adds one token; returns the text it completes (possibly empty).</summary>
    public string Add(int id)
    {
        var scratch = Scratch();
        Add(id, scratch);
        return scratch.ToString();
    }

    /// <summary>Adds one token and appends the text it completes (possibly none) to <paramref name="text"/>.</summary>
    public void Add(int id, TextBuffer text)
    {
        _pending.AddRange(_tokenizer.PieceBytes(id, _first, _skipSpecial));
        _first = false;
        int commit = _pending.Count;
        if (_cleanSpaces)
        {
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending);
            commit = 0;
            for (int k = span.Length - 1; k >= 3; k--)
                if (SpaceCleaner.IsCutPoint(span, k)) { commit = k; break; }
        }
        Emit(commit, flush: false, text);
    }

    /// <summary>Returns whatever is still held back (an incomplete character becomes U+FFFD, as in Decode) and resets.</summary>
    public string Flush()
    {
        var scratch = Scratch();
        Flush(scratch);
        return scratch.ToString();
    }

    /// <summary>Appends whatever is still held back (an incomplete character becomes U+FFFD, as in Decode) and resets.</summary>
    public void Flush(TextBuffer text)
    {
        Emit(_pending.Count, flush: true, text);
        _first = !_continuesText;
    }

    private TextBuffer Scratch()
    {
        _scratch ??= new TextBuffer();
        _scratch.Clear();
        return _scratch;
    }

    private void Emit(int count, bool flush, TextBuffer text)
    {
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending)[..count];
        int n = _cleanSpaces ? SpaceCleaner.Clean(span) : count;
        // Utf8.ToUtf16 rather than a System.Text.Decoder: the decoder's replacement fallback allocates for every
        // invalid sequence, and sampling draws stray byte tokens often. UTF-16 never takes more chars than UTF-8 took bytes.
        Utf8.ToUtf16(span[..n], text.GetSpan(n), out int read, out int written, replaceInvalidSequences: true, isFinalBlock: flush);
        text.Advance(written);
        // An incomplete character at the end waits for its next bytes.
        Span<byte> tail = stackalloc byte[4];
        int keep = n - read;
        span.Slice(read, keep).CopyTo(tail);
        _pending.RemoveRange(0, count);
        if (keep > 0) _pending.InsertRange(0, tail[..keep]);
    }
}
