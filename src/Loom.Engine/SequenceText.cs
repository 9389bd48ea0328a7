using Loom.Engine.Sampling;
using Loom.Models.Tokenizers;

namespace Loom.Engine;

/// <summary>
/// A sequence's generated text: its incremental decoder, its stop-string matcher and the buffer the text lives in.
/// Outputs carry slices of that buffer rather than new strings, so emitting a token allocates nothing; a consumer
/// makes a string only if it wants one, on its own thread. Text held back (an unfinished UTF-8 character, or a tail
/// that may still begin a stop string) simply stays in the buffer past <see cref="_emitted"/>.
/// </summary>
internal sealed class SequenceText(IncrementalDecoder decoder, StopStringMatcher? stops, int maxTokens)
{
    // Sized for typical pieces of a few characters, so steady-state decoding never regrows it.
    private readonly TextBuffer _text = new(Math.Clamp(maxTokens, 16, 4096) * 6);
    private int _emitted;

    /// <summary>True once a stop string has ended the text.</summary>
    public bool StoppedByString => stops is { Stopped: true };

    /// <summary>The stop string that ended the text, or null.</summary>
    public string? MatchedStop => stops?.MatchedStop;

    /// <summary>Decodes <paramref name="token"/> and returns the text that is now safe to emit.</summary>
    public ReadOnlyMemory<char> Add(int token)
    {
        decoder.Add(token, _text);
        return Take(end: false);
    }

    /// <summary>At the end of the sequence: everything the decoder and the stop matcher were still holding back.</summary>
    public ReadOnlyMemory<char> Flush()
    {
        decoder.Flush(_text);
        return Take(end: true);
    }

    private ReadOnlyMemory<char> Take(bool end)
    {
        var pending = _text.From(_emitted);
        int n = stops is null ? pending.Length : stops.Scan(pending);
        if (end && !StoppedByString) n = pending.Length;
        var slice = _text.Slice(_emitted, n);
        _emitted += n;
        return slice;
    }
}
