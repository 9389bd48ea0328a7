using System.Text;

namespace Loom.Server.Generation;

/// <summary>
/// Splits a reasoning model's answer, as it streams, into its reasoning (between <c>&lt;think&gt;</c> and
/// <c>&lt;/think&gt;</c>) and the rest, as vLLM's Qwen 3 and DeepSeek-R1 reasoning parsers do: the chat response
/// carries the first as <c>reasoning_content</c> and only the rest as <c>content</c> (and only the rest is read for
/// tool calls). The answer starts inside the reasoning when the prompt already opened it (DeepSeek-R1's generation
/// prompt ends with <c>&lt;think&gt;</c>); otherwise it is reasoning only if it opens with <c>&lt;think&gt;</c>, after
/// blanks. Newlines right after <c>&lt;/think&gt;</c> are dropped, as the templates drop them from history. Reasoning
/// never closed stays reasoning. One instance per choice.
/// </summary>
public sealed class ReasoningSplitter(bool startsInside)
{
    private const string Open = "<think>", Close = "</think>";

    private enum State { Start, Inside, AfterClose, Content }

    private State _state = startsInside ? State.Inside : State.Start;
    private readonly StringBuilder _held = new();

    /// <summary>Whether a template teaches reasoning in think tags (it strips them from earlier answers).</summary>
    public static bool TemplateReasons(string? templateSource) => templateSource?.Contains(Close, StringComparison.Ordinal) == true;

    /// <summary>Whether a rendered prompt leaves the answer inside the reasoning.</summary>
    public static bool PromptOpensReasoning(string renderedPrompt) => renderedPrompt.TrimEnd().EndsWith(Open, StringComparison.Ordinal);

    /// <summary>Adds the next piece of text; appends what it completes to <paramref name="reasoning"/> and <paramref name="content"/>.</summary>
    public void Add(ReadOnlySpan<char> text, StringBuilder reasoning, StringBuilder content)
    {
        _held.Append(text);
        while (_held.Length > 0)
        {
            string s = _held.ToString();
            switch (_state)
            {
                case State.Start:
                {
                    string trimmed = s.TrimStart();
                    if (trimmed.StartsWith(Open, StringComparison.Ordinal))
                    {
                        _held.Remove(0, s.Length - trimmed.Length + Open.Length);
                        _state = State.Inside;
                        continue;
                    }
                    if (Open.StartsWith(trimmed, StringComparison.Ordinal)) return; // still maybe the tag (or only blanks)
                    _state = State.Content;
                    continue;
                }
                case State.Inside:
                {
                    int end = s.IndexOf(Close, StringComparison.Ordinal);
                    if (end >= 0)
                    {
                        reasoning.Append(s, 0, end);
                        _held.Remove(0, end + Close.Length);
                        _state = State.AfterClose;
                        continue;
                    }
                    int hold = HeldTail(s);
                    reasoning.Append(s, 0, s.Length - hold);
                    _held.Remove(0, s.Length - hold);
                    return;
                }
                case State.AfterClose:
                {
                    int i = 0;
                    while (i < s.Length && s[i] is '\n' or '\r') i++;
                    _held.Remove(0, i);
                    if (_held.Length > 0) _state = State.Content;
                    continue;
                }
                default:
                    content.Append(s);
                    _held.Clear();
                    return;
            }
        }
    }

    /// <summary>At the end of the text: gives back what was held (a tail that might have begun a tag).</summary>
    public void Finish(StringBuilder reasoning, StringBuilder content)
    {
        if (_held.Length == 0) return;
        (_state == State.Inside ? reasoning : content).Append(_held);
        _held.Clear();
    }

    /// <summary>The longest tail of <paramref name="s"/> that the closing tag could still begin with.</summary>
    private static int HeldTail(string s)
    {
        for (int k = Math.Min(Close.Length - 1, s.Length); k > 0; k--)
            if (string.CompareOrdinal(s, s.Length - k, Close, 0, k) == 0) return k;
        return 0;
    }
}
