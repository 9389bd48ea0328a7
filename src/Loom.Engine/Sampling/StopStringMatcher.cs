namespace Loom.Engine.Sampling;

/// <summary>
/// Finds stop strings in streamed text. Text that could still turn into a stop string is held back, so nothing
/// emitted ever has to be retracted; like OpenAI, the stop string itself and everything after it are dropped.
/// </summary>
/// <remarks>
/// The stop that completes first in the text wins (the earliest end; among stops ending at the same character, the
/// longest). That is the answer a character-by-character stream gives, so the result never depends on how the text
/// was split into deltas. Matching is ordinal on UTF-16 code units; a delta that ends in the first half of a
/// surrogate pair has that half held back, so emitted text never splits a pair.
/// </remarks>
public sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private readonly int _longest;
    private string _held = "";

    /// <param name="stops">Stop strings; none may be empty.</param>
    public StopStringMatcher(IReadOnlyList<string> stops)
    {
        ArgumentNullException.ThrowIfNull(stops);
        foreach (var s in stops)
            if (string.IsNullOrEmpty(s)) throw new ArgumentException("stop cannot contain an empty string.", "stop");
        _stops = [.. stops];
        _longest = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length);
    }

    /// <summary>True once a stop string has completed; later deltas are ignored.</summary>
    public bool Stopped { get; private set; }

    /// <summary>The stop string that ended the text, or null.</summary>
    public string? MatchedStop { get; private set; }

    /// <summary>
    /// Adds a delta and returns the text that is now safe to emit: everything except a held-back tail that may still
    /// begin a stop string, or, when a stop string completes, the text before it.
    /// </summary>
    public string Feed(string delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        if (Stopped) return "";
        var text = _held + delta;
        int safe = Scan(text);
        _held = Stopped ? "" : text[safe..];
        return text[..safe];
    }

    /// <summary>
    /// The same rule over text the caller keeps: <paramref name="pending"/> is everything not emitted yet (what was
    /// held back plus what arrived since). Returns how many of its characters are safe to emit now; once a stop string
    /// completes, <see cref="Stopped"/> is set and the count is the text before it.
    /// </summary>
    public int Scan(ReadOnlySpan<char> pending)
    {
        if (Stopped) return 0;
        if (_stops.Length == 0) return pending.Length;
        var matchStart = -1;
        var matchEnd = int.MaxValue;
        foreach (var stop in _stops)
        {
            // The first occurrence of a stop is also its earliest-ending one.
            var at = pending.IndexOf(stop.AsSpan(), StringComparison.Ordinal);
            if (at < 0) continue;
            var end = at + stop.Length;
            if (end < matchEnd || (end == matchEnd && at < matchStart))
            {
                matchStart = at;
                matchEnd = end;
                MatchedStop = stop;
            }
        }
        if (matchStart >= 0)
        {
            Stopped = true;
            return matchStart;
        }
        return pending.Length - HeldLength(pending);
    }

    /// <summary>Returns the held-back text at the end of the stream (empty once stopped) and clears it.</summary>
    public string Flush()
    {
        var rest = _held;
        _held = "";
        return Stopped ? "" : rest;
    }

    // Length of the longest tail of text that is a proper prefix of some stop string.
    private int HeldLength(ReadOnlySpan<char> text)
    {
        var max = Math.Min(text.Length, _longest - 1);
        for (var k = max; k > 0; k--)
        {
            var tail = text[(text.Length - k)..];
            foreach (var stop in _stops)
                if (stop.Length > k && stop.AsSpan().StartsWith(tail, StringComparison.Ordinal))
                    return k;
        }
        return text.Length > 0 && char.IsHighSurrogate(text[^1]) ? 1 : 0;
    }
}
