using Loom.Core.Tensors;
using Loom.Models.Formats.Gguf;
using Loom.Models.Synthetic;

namespace Loom.Server.Tests;

/// <summary>
/// A one-layer model built by hand, with a real chat template (<see cref="Qwen"/>: Qwen 2.5's), whose weights make it
/// call a tool: after the assistant header's last token (<see cref="Trigger"/>, "\n" for Qwen) it writes <c>&lt;tool_call&gt;{"name": "get_weather", "arguments": {"city":
/// "Paris"}}&lt;/tool_call&gt;</c> and stops, unless a <c>&lt;tool_response&gt;</c> is in the prompt, when it answers
/// "It is sunny in Paris." and stops. So the engine really generates a call (token by token, through sampling, the
/// detokenizer and the server's parser) without a trained model.
/// How: every script piece is one user-defined token with a one-hot embedding; the output matrix maps each piece to
/// the next (a bigram chain), and the feed-forward block is zero. Attention has one job: keys are non-zero only at
/// &lt;tool_response&gt; and the query only at "\n", on the slowest-turning RoPE pair, so "\n" attends to a tool
/// response when there is one and copies a flag into the residual that turns the chain from the call to the answer.
/// <see cref="Mistral"/> has Mistral v0.3's template and starts its call with the control token [TOOL_CALLS], which
/// only shows in the text when the server keeps special tokens for the parser.
/// </summary>
/// <param name="TemplateName">The template in Fixtures/templates.</param>
/// <param name="Script">The call, one token per piece.</param>
/// <param name="ControlPieces">How many of the script's first pieces are control tokens.</param>
/// <param name="Trigger">The generation prompt's last token, which starts the script: "\n" (a byte token) or a control token of <paramref name="Controls"/>.</param>
/// <param name="Controls">The template's control tokens.</param>
/// <param name="JsonEnd">The index of the script's last piece of call JSON (after it, only closing tags).</param>
internal sealed record ToolCallingModel(string TemplateName, string[] Script, int ControlPieces, string Trigger, string[] Controls, int JsonEnd)
{
    public static readonly ToolCallingModel Qwen = new("qwen2.5",
        ["<tool_call>", "{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": ", "\"Paris\"}}", "</tool_call>"], 0, "\n", ["<|im_start|>", "<|im_end|>"], 3);

    public static readonly ToolCallingModel Mistral = new("mistral-v0.3",
        ["[TOOL_CALLS]", "[{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": ", "\"Paris\"}}]"], 1, "[/INST]",
        ["[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"], 3);

    /// <summary>Qwen 3's template, whose model thinks before it calls: the script opens with a think block.</summary>
    public static readonly ToolCallingModel QwenThinking = new("qwen3",
        ["<think>", "\nI need the weather.\n", "</think>\n\n", "<tool_call>", "{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": ", "\"Paris\"}}", "</tool_call>"],
        0, "\n", ["<|im_start|>", "<|im_end|>"], 6);

    public const string Answer = "It is sunny in Paris.";

    public const string WeatherParameters = """{"type": "object", "properties": {"city": {"type": "string", "description": "City name"}}, "required": ["city"]}""";

    private const int Dim = 64, Vocab = 768, Newline = 3 + '\n';
    private const int ResponseDim = 10, FlagDim = 20, HeadSlot = 14;

    private string? _path;
    private readonly object _lock = new();

    /// <summary>The GGUF file, written on first use.</summary>
    public string Path
    {
        get { lock (_lock) return _path ??= Write(this); }
    }

    public string Template => File.ReadAllText(System.IO.Path.Combine(AppContext.BaseDirectory, "Fixtures", "templates", TemplateName + ".jinja"));

    private static string Write(ToolCallingModel m)
    {
        var (tokens, scores, types) = SyntheticModelVocab.Build(Vocab);
        // Script pieces, the answer, the tool-response tag and the template's control tokens take the last placeholder slots.
        string[] added = [.. m.Script, Answer, "<tool_response>", .. m.Controls];
        int first = Vocab - added.Length;
        if (!tokens[first].StartsWith("<unused", StringComparison.Ordinal)) throw new InvalidOperationException("the synthetic vocabulary has no room left");
        for (int i = 0; i < added.Length; i++)
        {
            tokens[first + i] = added[i];
            bool control = i < m.ControlPieces || i >= added.Length - m.Controls.Length;
            types[first + i] = control ? SyntheticModelVocab.Control : 4; // 4: user-defined, printed as is
            scores[first + i] = 0;
        }
        var Script = m.Script;
        int script0 = first, answer = first + Script.Length, response = answer + 1;
        int trigger = m.Trigger == "\n" ? Newline : first + Array.IndexOf(added, m.Trigger);

        var embed = new float[Vocab * Dim];
        embed[trigger * Dim + 0] = 1;
        for (int i = 0; i <= Script.Length; i++) embed[(script0 + i) * Dim + 1 + i] = 1; // script pieces and the answer: dims 1..6
        embed[response * Dim + ResponseDim] = 1;

        var output = new float[Vocab * Dim];
        output[script0 * Dim + 0] = 10;                         // the trigger -> the first piece ...
        output[script0 * Dim + FlagDim] = -10;                  // ... unless a tool response was seen
        output[answer * Dim + FlagDim] = 10;                    // then the answer
        for (int i = 1; i < Script.Length; i++) output[(script0 + i) * Dim + i] = 10; // piece i-1 -> piece i
        output[SyntheticModelVocab.EosId * Dim + Script.Length] = 10;      // last piece -> end
        output[SyntheticModelVocab.EosId * Dim + Script.Length + 1] = 30;  // answer -> end, above its own flag
        // Second choices, taken only when a constraint to the bare call JSON (ToolConstraint) masks the first: the
        // trigger goes straight to the JSON, and the JSON's last piece to the end rather than to a closing tag.
        output[(script0 + 1) * Dim + 0] = 5;
        output[SyntheticModelVocab.EosId * Dim + 1 + m.JsonEnd] = 5;

        var q = new float[Dim * Dim];
        var k = new float[Dim * Dim];
        var v = new float[Dim * Dim];
        var o = new float[Dim * Dim];
        q[HeadSlot * Dim + 0] = 1;            // the query reads the trigger
        k[HeadSlot * Dim + ResponseDim] = 1;  // the key reads <tool_response>
        v[0 * Dim + ResponseDim] = 1;
        o[FlagDim * Dim + 0] = 1f / 8;        // the normalised one-hot is 8; the flag lands near 1

        var w = new GgufWriter();
        w.Add("general.architecture", "llama");
        w.Add("general.name", "tool-caller");
        w.Add("llama.block_count", 1u);
        w.Add("llama.context_length", 2048u);
        w.Add("llama.embedding_length", (uint)Dim);
        w.Add("llama.feed_forward_length", (uint)Dim);
        w.Add("llama.attention.head_count", 4u);
        w.Add("llama.attention.head_count_kv", 4u);
        w.Add("llama.rope.freq_base", 10000f);
        w.Add("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        w.Add("general.file_type", 0u);
        w.Add("llama.vocab_size", (uint)Vocab);
        w.Add("llama.rope.dimension_count", 16u);
        w.Add("tokenizer.ggml.model", "llama");
        w.Add("tokenizer.ggml.pre", "default");
        w.Add("tokenizer.ggml.tokens", tokens);
        w.Add("tokenizer.ggml.scores", scores);
        w.Add("tokenizer.ggml.token_type", types);
        w.Add("tokenizer.ggml.bos_token_id", (uint)SyntheticModelVocab.BosId);
        w.Add("tokenizer.ggml.eos_token_id", (uint)SyntheticModelVocab.EosId);
        w.Add("tokenizer.ggml.unknown_token_id", (uint)SyntheticModelVocab.UnkId);
        w.Add("tokenizer.ggml.add_bos_token", false);
        w.Add("tokenizer.ggml.add_eos_token", false);
        w.Add("tokenizer.chat_template", m.Template);
        w.Add("general.quantization_version", 2u);

        float[] Ones(int n) => Enumerable.Repeat(1f, n).ToArray();
        w.AddTensor("token_embd.weight", GgmlType.F32, [Dim, Vocab], embed);
        w.AddTensor("blk.0.attn_norm.weight", GgmlType.F32, [Dim], Ones(Dim));
        w.AddTensor("blk.0.attn_q.weight", GgmlType.F32, [Dim, Dim], q);
        w.AddTensor("blk.0.attn_k.weight", GgmlType.F32, [Dim, Dim], k);
        w.AddTensor("blk.0.attn_v.weight", GgmlType.F32, [Dim, Dim], v);
        w.AddTensor("blk.0.attn_output.weight", GgmlType.F32, [Dim, Dim], o);
        w.AddTensor("blk.0.ffn_norm.weight", GgmlType.F32, [Dim], Ones(Dim));
        w.AddTensor("blk.0.ffn_gate.weight", GgmlType.F32, [Dim, Dim], new float[Dim * Dim]);
        w.AddTensor("blk.0.ffn_up.weight", GgmlType.F32, [Dim, Dim], new float[Dim * Dim]);
        w.AddTensor("blk.0.ffn_down.weight", GgmlType.F32, [Dim, Dim], new float[Dim * Dim]);
        w.AddTensor("output_norm.weight", GgmlType.F32, [Dim], Ones(Dim));
        w.AddTensor("output.weight", GgmlType.F32, [Dim, Vocab], output);
        string path = System.IO.Path.Combine(Directory.CreateTempSubdirectory("loom-tool-model-").FullName, m.TemplateName + ".gguf");
        w.Write(path);
        return path;
    }
}
