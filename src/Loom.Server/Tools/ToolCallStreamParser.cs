using System.Text;

namespace Loom.Server.Tools;

/// <summary>
/// Splits a model's text, as it arrives, into content and tool calls in the template's <see cref="ToolCallFormat"/>.
/// Content is passed on at once except a tail that may still become a marker; once the calls open, everything is held
/// and scanned as JSON (<see cref="CallObjectScanner"/>): a call starts when its <c>"name"</c> string is complete, and
/// its <c>"arguments"</c> (or <c>"parameters"</c>) object is passed on piece by piece as its text arrives, so the
/// pieces concatenate to exactly the arguments the model wrote. Text that turns out not to be a call is given back as
/// content while no call has started, and dropped after one (as vLLM's parsers do). One instance per choice.
/// </summary>
/// <param name="format">The template's call format.</param>
/// <param name="newId">Makes each call's id.</param>
/// <param name="maxCalls">Calls after this many are dropped (1 for <c>parallel_tool_calls: false</c>).</param>
public sealed class ToolCallStreamParser(ToolCallFormat format, Func<string> newId, int maxCalls = int.MaxValue)
{
    private enum Between { Advanced, Wait, NotACall }

    private readonly StringBuilder _text = new();
    private bool _inCalls, _sawNonBlank, _done;
    private int _pos, _calls;
    private CallObjectScanner? _call;

    /// <summary>True once a call has started (the choice's finish reason becomes "tool_calls").</summary>
    public bool HasCalls => _calls > 0;

    /// <summary>Adds the next piece of text and appends what it completes to <paramref name="events"/>.</summary>
    public void Add(ReadOnlySpan<char> text, List<ToolCallEvent> events)
    {
        if (_done || text.IsEmpty) return;
        _text.Append(text);
        while (!_done && (_inCalls || ScanContent(events)))
            if (ScanCalls(events)) break;
    }

    /// <summary>At the end of the text: gives back what was held (content, or an unfinished call's last arguments).</summary>
    public void Finish(List<ToolCallEvent> events)
    {
        if (_done) return;
        _done = true;
        if (_calls == 0)
        {
            if (_text.Length > 0) events.Add(ToolCallEvent.Content(_text.ToString()));
        }
        else if (_call is { Index: >= 0 } c)
        {
            Emit(c, _text.Length, events);
        }
        _text.Clear();
    }

    /// <summary>Passes on content up to a marker; true when the calls opened.</summary>
    private bool ScanContent(List<ToolCallEvent> events)
    {
        string s = _text.ToString();
        if (format.LeadingChars.Length > 0 && !_sawNonBlank)
        {
            int i = 0;
            while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
            if (i == s.Length) return false;
            _sawNonBlank = true;
            if (format.LeadingChars.Contains(s[i]))
            {
                if (i > 0) _text.Remove(0, i);
                return Open(0);
            }
        }
        _sawNonBlank = true;
        int at = -1, length = 0;
        foreach (var m in format.Markers)
        {
            int i = s.IndexOf(m, StringComparison.Ordinal);
            if (i >= 0 && (at < 0 || i < at)) (at, length) = (i, m.Length);
        }
        if (at >= 0)
        {
            if (at > 0) events.Add(ToolCallEvent.Content(s[..at]));
            _text.Remove(0, at);
            return Open(length);
        }
        int hold = HeldTail(s);
        if (s.Length > hold) events.Add(ToolCallEvent.Content(s[..^hold]));
        _text.Remove(0, s.Length - hold);
        return false;
    }

    private bool Open(int markerLength)
    {
        _inCalls = true;
        _pos = markerLength;
        return true;
    }

    /// <summary>The longest tail of <paramref name="s"/> that a marker could still begin with.</summary>
    private int HeldTail(string s)
    {
        int best = 0;
        foreach (var m in format.Markers)
            for (int k = Math.Min(m.Length - 1, s.Length); k > best; k--)
                if (string.CompareOrdinal(s, s.Length - k, m, 0, k) == 0) { best = k; break; }
        return best;
    }

    /// <summary>Scans the held calls; true when it needs more text, false when it went back to content.</summary>
    private bool ScanCalls(List<ToolCallEvent> events)
    {
        while (_pos < _text.Length && !_done)
        {
            if (_call is null)
            {
                var b = Skip();
                if (b == Between.Wait) break;
                if (b == Between.NotACall) return !NotACall(events);
                continue;
            }
            var r = _call.Step(_text, _pos);
            if (r == CallObjectScanner.Result.Invalid) return !NotACall(events);
            _pos++;
            if (_call.Index < 0 && _call.Name is not null && !StartCall(_call, events)) return true;
            if (r == CallObjectScanner.Result.Complete)
            {
                if (_call.Name is null) return !NotACall(events);
                Emit(_call, _pos, events);
                if (_call.ArgsStart < 0) events.Add(ToolCallEvent.Arguments(_call.Index, "{}"));
                _call = null;
            }
        }
        if (_call is { Index: >= 0 } c) Emit(c, _pos, events);
        return true;
    }

    private bool StartCall(CallObjectScanner call, List<ToolCallEvent> events)
    {
        if (_calls >= maxCalls)
        {
            _done = true;
            return false;
        }
        call.Index = _calls++;
        events.Add(ToolCallEvent.Start(call.Index, newId(), call.Name!));
        return true;
    }

    /// <summary>Passes on the call's arguments up to <paramref name="end"/>: as they come for an object, whole otherwise.</summary>
    private void Emit(CallObjectScanner call, int end, List<ToolCallEvent> events)
    {
        if (call.ArgsStart < 0) return;
        if (call.Emitted < 0) call.Emitted = call.ArgsStart;
        if (call.ArgsEnd >= 0) end = Math.Min(end, call.ArgsEnd);
        else if (!call.ArgsIsContainer) return;
        if (end <= call.Emitted) return;
        bool whole = call.Emitted == call.ArgsStart && end == call.ArgsEnd;
        string piece = whole && call.ArgsDecoded is { } decoded ? decoded : _text.ToString(call.Emitted, end - call.Emitted);
        events.Add(ToolCallEvent.Arguments(call.Index, piece));
        call.Emitted = end;
    }

    /// <summary>Between calls: blanks, brackets, commas and the format's tags.</summary>
    private Between Skip()
    {
        int rest = _text.Length - _pos;
        foreach (var tag in format.Separators)
        {
            int n = Math.Min(rest, tag.Length), i = 0;
            while (i < n && _text[_pos + i] == tag[i]) i++;
            if (i < n) continue;
            if (n < tag.Length) return Between.Wait;
            _pos += tag.Length;
            return Between.Advanced;
        }
        char ch = _text[_pos];
        if (ch == '{') _call = new CallObjectScanner(_pos);
        else if (format.PythonCalls && char.IsAsciiLetter(ch))
        {
            _call = CallObjectScanner.Python(_pos);
            return Between.Advanced;
        }
        else if (format.NamedCalls && CallObjectScanner.IsNameChar(ch))
        {
            // name[ARGS]{…}: the name's first character is the call's, so it is not skipped.
            _call = CallObjectScanner.Named(_pos);
            return Between.Advanced;
        }
        else if (!char.IsWhiteSpace(ch) && ch is not (',' or ';' or '[' or ']')) return Between.NotACall;
        _pos++;
        return Between.Advanced;
    }

    /// <summary>
    /// The held text is not a call. Before any call it goes back out as content and scanning resumes after it (true);
    /// after one, the rest of the text is dropped (false).
    /// </summary>
    private bool NotACall(List<ToolCallEvent> events)
    {
        if (_calls > 0)
        {
            _done = true;
            return false;
        }
        // Up to the offending character, which may itself begin a marker; at least the marker or brace goes out.
        events.Add(ToolCallEvent.Content(_text.ToString(0, _pos)));
        _text.Remove(0, _pos);
        _inCalls = false;
        _call = null;
        return true;
    }
}
