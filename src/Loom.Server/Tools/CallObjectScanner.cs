using System.Text;
using System.Text.Json;

namespace Loom.Server.Tools;

/// <summary>
/// Reads one call object (<c>{"name": …, "arguments": …}</c>), or a call written <c>name[ARGS]{…}</c>, a character at
/// a time, tracking strings and nesting, and notes where its top-level <c>name</c> and arguments values are. Positions index the parser's text, which
/// only grows while the calls are scanned.
/// </summary>
internal sealed class CallObjectScanner(int start)
{
    public enum Result { More, Complete, Invalid }

    private enum Phase { Key, InKey, Colon, Value, InValue, AfterValue }

    private static readonly string[] ArgumentKeys = ["arguments", "parameters"];

    private int _depth = 1, _keyStart, _valueStart;
    private bool _inString, _escape, _valueIsString, _valueIsContainer;
    private Phase _phase = Phase.Key;
    private string? _key;

    public int Start { get; } = start;
    /// <summary>The function name, once its string is complete.</summary>
    public string? Name { get; private set; }
    /// <summary>Where the arguments value begins, or -1 before it does.</summary>
    public int ArgsStart { get; private set; } = -1;
    /// <summary>Where the arguments value ends (exclusive), or -1 before it does.</summary>
    public int ArgsEnd { get; private set; } = -1;
    /// <summary>The arguments are an object or array, whose text can be passed on before it is complete.</summary>
    public bool ArgsIsContainer { get; private set; }
    /// <summary>The arguments came as a JSON string (some models quote them): its decoded text.</summary>
    public string? ArgsDecoded { get; private set; }

    /// <summary>Where the parser has passed arguments text on up to; -1 until the call has started.</summary>
    public int Emitted { get; set; } = -1;
    /// <summary>The call's index among the choice's calls; -1 until its name is known and it started.</summary>
    public int Index { get; set; } = -1;

    /// <summary>
    /// A call written <c>name[ARGS]{…}</c> (Mistral's newer templates), starting at the name's first character: the
    /// name runs up to the tag, then the arguments object.
    /// </summary>
    public static CallObjectScanner Named(int start) => new(start) { _named = true, _depth = 0 };

    private const string ArgsTag = "[ARGS]";
    private bool _named;
    private readonly StringBuilder _nameText = new();

    /// <summary>A character a function name may have (<see cref="ToolPlan"/>'s rule, and the dots of built-in tools).</summary>
    public static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.';

    /// <summary>
    /// A built-in tool call of Llama 3.1, written after <c>&lt;|python_tag|&gt;</c> as <c>name.call(key="value", …)</c>:
    /// its keyword arguments become the JSON object of its arguments, given whole once the call closes.
    /// </summary>
    public static CallObjectScanner Python(int start) => new(start) { _python = true, _depth = 0 };

    private bool _python;
    private char _quote;
    private int _argsFrom;

    public Result Step(StringBuilder text, int pos) => _python ? StepPython(text, pos) : _named ? StepNamed(text, pos) : StepObject(text, pos);

    private Result StepPython(StringBuilder text, int pos)
    {
        char c = text[pos];
        if (ArgsStart < 0)
        {
            if (c != '(') return IsNameChar(c) && pos - Start < 64 ? Result.More : Result.Invalid;
            string callee = text.ToString(Start, pos - Start);
            if (!callee.EndsWith(".call", StringComparison.Ordinal) || callee.Length == ".call".Length) return Result.Invalid;
            // The arguments go out whole (ArgsDecoded), over the call's whole text, so even empty ones are given.
            ArgsStart = Start;
            _argsFrom = pos + 1;
            return Result.More;
        }
        if (_quote != 0)
        {
            if (_escape) _escape = false;
            else if (c == '\\') _escape = true;
            else if (c == _quote) _quote = (char)0;
            return Result.More;
        }
        if (c is '"' or '\'') _quote = c;
        else if (c is '(' or '[' or '{') _depth++;
        else if (c is ']' or '}') _depth--;
        else if (c == ')' && _depth-- == 0)
        {
            string callee = text.ToString(Start, _argsFrom - 1 - Start);
            ArgsDecoded = PythonArguments.ToJson(text.ToString(_argsFrom, pos - _argsFrom));
            if (ArgsDecoded is null) return Result.Invalid;
            Name = callee[..^".call".Length];
            ArgsEnd = pos + 1;
            return Result.Complete;
        }
        return Result.More;
    }

    private Result StepNamed(StringBuilder text, int pos)
    {
        char c = text[pos];
        if (Name is null)
        {
            _nameText.Append(c);
            int tag = _nameText.ToString().IndexOf('[');
            if (tag < 0) return IsNameChar(c) && _nameText.Length <= 64 ? Result.More : Result.Invalid;
            string rest = _nameText.ToString(tag, _nameText.Length - tag);
            if (!ArgsTag.StartsWith(rest, StringComparison.Ordinal) || tag == 0) return Result.Invalid;
            if (rest.Length == ArgsTag.Length) Name = _nameText.ToString(0, tag);
            return Result.More;
        }
        if (ArgsStart < 0)
        {
            if (char.IsWhiteSpace(c)) return Result.More;
            if (c is not ('{' or '[')) return Result.Invalid;
            ArgsStart = pos;
            ArgsIsContainer = true;
            _depth = 1;
            return Result.More;
        }
        if (_inString)
        {
            if (_escape) _escape = false;
            else if (c == '\\') _escape = true;
            else if (c == '"') _inString = false;
        }
        else if (c == '"') _inString = true;
        else if (c is '{' or '[') _depth++;
        else if (c is '}' or ']' && --_depth == 0)
        {
            ArgsEnd = pos + 1;
            return Result.Complete;
        }
        return Result.More;
    }

    private Result StepObject(StringBuilder text, int pos)
    {
        char c = text[pos];
        if (_inString)
        {
            if (_escape) _escape = false;
            else if (c == '\\') _escape = true;
            else if (c == '"')
            {
                _inString = false;
                if (_depth == 1) return StringEnded(text, pos);
            }
            return Result.More;
        }
        if (_depth > 1)
        {
            if (c == '"') _inString = true;
            else if (c is '{' or '[') _depth++;
            else if (c is '}' or ']' && --_depth == 1) ValueEnded(text, pos + 1);
            return Result.More;
        }
        if (_phase == Phase.InValue && !_valueIsString && !_valueIsContainer && (c is ',' or '}'))
            ValueEnded(text, pos);
        switch (c)
        {
            case '"' when _phase is Phase.Key or Phase.Value:
                _inString = true;
                if (_phase == Phase.Key) { _phase = Phase.InKey; _keyStart = pos; }
                else BeginValue(pos, isString: true, isContainer: false);
                return Result.More;
            case '{' or '[' when _phase == Phase.Value:
                _depth++;
                BeginValue(pos, isString: false, isContainer: true);
                return Result.More;
            case ':' when _phase == Phase.Colon: _phase = Phase.Value; return Result.More;
            case ',' when _phase == Phase.AfterValue: _phase = Phase.Key; return Result.More;
            case '}' when _phase is Phase.AfterValue or Phase.Key: return Result.Complete;
            case var _ when char.IsWhiteSpace(c): return Result.More;
            case var _ when _phase == Phase.Value: BeginValue(pos, isString: false, isContainer: false); return Result.More;
            case var _ when _phase == Phase.InValue: return Result.More;
            default: return Result.Invalid;
        }
    }

    private void BeginValue(int pos, bool isString, bool isContainer)
    {
        _phase = Phase.InValue;
        _valueStart = pos;
        _valueIsString = isString;
        _valueIsContainer = isContainer;
        if (IsArguments) { ArgsStart = pos; ArgsIsContainer = isContainer; }
    }

    private bool IsArguments => _key is not null && ArgumentKeys.Contains(_key) && ArgsStart < 0;

    private Result StringEnded(StringBuilder text, int pos)
    {
        if (_phase == Phase.InKey)
        {
            _key = Decode(text.ToString(_keyStart, pos + 1 - _keyStart));
            _phase = Phase.Colon;
            return _key is null ? Result.Invalid : Result.More;
        }
        ValueEnded(text, pos + 1);
        return Result.More;
    }

    private void ValueEnded(StringBuilder text, int end)
    {
        string raw = text.ToString(_valueStart, end - _valueStart).TrimEnd();
        if (_key == "name" && _valueIsString && Name is null) Name = Decode(raw);
        if (ArgsStart == _valueStart && ArgsEnd < 0)
        {
            ArgsEnd = _valueStart + raw.Length;
            if (_valueIsString) ArgsDecoded = Decode(raw);
        }
        _phase = Phase.AfterValue;
    }

    private static string? Decode(string jsonString)
    {
        try
        {
            using var doc = JsonDocument.Parse(jsonString);
            return doc.RootElement.ValueKind == JsonValueKind.String ? doc.RootElement.GetString() : null;
        }
        catch (JsonException) { return null; }
    }
}
