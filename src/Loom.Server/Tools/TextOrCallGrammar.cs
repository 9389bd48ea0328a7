using System.Text;
using Loom.Engine.Structured;
using Loom.Models.Tokenizers;

namespace Loom.Server.Tools;

/// <summary>
/// The constraint <c>strict</c> tools put on an answer under <c>tool_choice: "auto"</c>: the model may answer in text
/// or call, and once it opens a call in its template's format the call must name a tool and, for a strict tool, give
/// arguments valid against its schema (a tool that is not strict takes any JSON object). As GBNF: free text that
/// never contains the format's opener, then optionally the calls in that format (Hermes/Qwen
/// <c>&lt;tool_call&gt;{…}&lt;/tool_call&gt;</c> repeated, Mistral <c>[TOOL_CALLS][{…}, …]</c> or, for its newer
/// templates, <c>[TOOL_CALLS]name[ARGS]{…}</c> per call, Llama 3 a bare
/// <c>{…}</c> as the whole answer or after <c>&lt;|python_tag|&gt;</c>), then only blanks. An opener that is a control
/// token is named as one (<c>&lt;[id]&gt;</c>), its spelled-out text allowed too since the parser reads both alike.
/// </summary>
public static class TextOrCallGrammar
{
    /// <summary>The grammar, or null when the plan asks for none (the choice is not auto, or no tool is strict).</summary>
    public static string? Gbnf(ToolPlan plan, Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (plan.Choice.Mode != ToolChoiceMode.Auto || !plan.Tools.Any(t => t.Strict)) return null;
        var f = plan.Format;
        string marker = f.Markers[0];
        bool llama = f == ToolCallFormat.Llama3;
        var g = new StringBuilder();
        if (!f.WritesNamedCalls)
        {
            var call = ToolConstraint.AnyCall(plan.Tools, llama ? "parameters" : "arguments", strictOnly: true);
            g.Append(JsonSchemaGrammar.ToGbnf(call.ToJsonString(), "tools", prefix: "call-", rootName: "call"));
        }
        NotContaining(g, marker);
        g.Append("toc-s ::= [ \\t\\n]{0,4}\n");
        g.Append("toc-open ::= ").Append(Opener(marker, tokenizer)).Append('\n');
        string many = plan.ParallelCalls ? "*" : "{0}";
        if (f.WritesNamedCalls)
        {
            // [TOOL_CALLS]name[ARGS]{…} per call: each tool's name, then its own arguments.
            var calls = new List<string>();
            for (int i = 0; i < plan.Tools.Count; i++)
            {
                var tool = plan.Tools[i];
                string args = tool.Strict && tool.Parameters is { } p ? p.GetRawText()
                    : tool.Strict ? """{"type": "object", "properties": {}, "additionalProperties": false}""" : """{"type": "object"}""";
                g.Append(JsonSchemaGrammar.ToGbnf(args, "tools", prefix: $"args{i}-", rootName: $"args{i}"));
                calls.Add($"{Literal(tool.Name)} \"[ARGS]\" args{i}");
            }
            g.Append("toc-named ::= toc-open (").AppendJoin(" | ", calls).Append(")\n");
            g.Append($"root ::= toc-text (toc-named (toc-s toc-named){many} toc-s)?\n");
        }
        else if (f.Name == "mistral")
            g.Append($"root ::= toc-text (toc-open toc-s \"[\" toc-s call (toc-s \",\" toc-s call){many} toc-s \"]\" toc-s)?\n");
        else if (llama)
        {
            // The answer is a call when its first non-blank character is '{' (the parser's rule), so text may not
            // start with one; text may still be followed by <|python_tag|> and a call.
            char c = marker[0];
            g.Append($"toc-first ::= [^{{ \\t\\n{ClassChar(c)}] toc-text | {Lit(c)} toc-loop* toc-exit toc-text | {Lit(c)} toc-loop* toc-part\n");
            g.Append("root ::= [ \\t\\n]* (call toc-s | toc-first? (toc-open toc-s call toc-s)?)\n");
        }
        else
        {
            g.Append("toc-one ::= toc-open toc-s call toc-s \"</tool_call>\"\n");
            g.Append($"root ::= toc-text (toc-one (toc-s toc-one){many} toc-s)?\n");
        }
        return g.ToString();
    }

    /// <summary>The opener: its text, or (when it is a control token, as Mistral's and Llama's are) that token or its text.</summary>
    private static string Opener(string marker, Tokenizer tokenizer)
    {
        int id = tokenizer.TokenToId(marker);
        return id >= 0 && tokenizer.TokenBytes(id).IsEmpty && !tokenizer.IsEndOfGeneration(id)
            ? $"<[{id}]> | {Literal(marker)}"
            : Literal(marker);
    }

    /// <summary>
    /// <c>toc-text</c>: the strings that do not contain <paramref name="marker"/>, for a marker whose first character
    /// c occurs nowhere else in it (true of every format's). Matching the marker can then only fall back to nothing
    /// matched or to c, so the text is a loop of: a character other than c, or c followed by a partial marker that
    /// fails (<c>toc-exit</c>) after any number of partial markers restarted by another c (<c>toc-loop</c>); and it may
    /// end inside a partial marker (<c>toc-part</c>).
    /// </summary>
    private static void NotContaining(StringBuilder g, string marker)
    {
        char c = marker[0];
        if (marker.Length < 2 || marker.IndexOf(c, 1) >= 0) throw new ArgumentException($"the marker '{marker}' repeats its first character", nameof(marker));
        string rest = marker[1..^1]; // m1 … m(k-2): what may follow c without completing the marker
        var parts = Enumerable.Range(0, rest.Length + 1).Select(i => i == 0 ? "\"\"" : Literal(rest[..i]));
        var exits = Enumerable.Range(0, rest.Length + 1).Select(i =>
            (i == 0 ? "" : Literal(rest[..i]) + " ") + $"[^{ClassChar(marker[i + 1])}{ClassChar(c)}]");
        g.Append("toc-part ::= ").AppendJoin(" | ", parts).Append('\n');
        g.Append("toc-exit ::= ").AppendJoin(" | ", exits).Append('\n');
        g.Append($"toc-loop ::= toc-part {Lit(c)}\n");
        g.Append($"toc-text ::= ([^{ClassChar(c)}] | {Lit(c)} toc-loop* toc-exit)* ({Lit(c)} toc-loop* toc-part)?\n");
    }

    private static string Literal(string text)
    {
        var sb = new StringBuilder("\"");
        foreach (char ch in text) sb.Append(ch is '"' or '\\' || char.IsControl(ch) ? ClassChar(ch) : ch.ToString());
        return sb.Append('"').ToString();
    }

    private static string ClassChar(char ch) => $"\\u{(int)ch:X4}";

    private static string Lit(char ch) => Literal(ch.ToString());
}
