using System.Text.Json;
using System.Text.RegularExpressions;

namespace Loom.Models.Tokenizers;

/// <summary>
/// Reads Hugging Face <c>tokenizer.json</c> BPE tokenizers into the vocabulary llama.cpp's converter would produce:
/// byte-level BPE (ByteLevel pre-tokenizer) becomes <c>gpt2</c> with the pre-tokenizer recognised by its split pattern;
/// a SentencePiece-style BPE (▁ normalizer or Metaspace) becomes <c>llama</c> SPM with every score -1000, as convert_hf_to_gguf writes it.
/// </summary>
internal static class HuggingFaceTokenizerLoader
{
    public static VocabSpec Load(string jsonPath, string? configPath)
    {
        using var doc = Parse(jsonPath);
        using var config = configPath is null ? null : Parse(configPath);
        var root = doc.RootElement;
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException(jsonPath, "no 'model' object");
        string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
        if (type != "BPE") throw new ModelFormatException(jsonPath, $"unsupported tokenizer model type '{type}' (only BPE)");
        if (!model.TryGetProperty("vocab", out var vocabEl) || vocabEl.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException(jsonPath, "model.vocab missing");

        var byId = new Dictionary<int, string>();
        foreach (var p in vocabEl.EnumerateObject())
        {
            if (!p.Value.TryGetInt32(out int id) || id < 0 || id > 10_000_000) throw new ModelFormatException(jsonPath, $"bad id for token '{p.Name}'");
            byId[id] = p.Name;
        }
        var added = new List<(int Id, string Content, bool Special, bool LStrip, bool RStrip)>();
        if (root.TryGetProperty("added_tokens", out var addedEl) && addedEl.ValueKind == JsonValueKind.Array)
        {
            foreach (var a in addedEl.EnumerateArray())
            {
                int id = a.GetProperty("id").GetInt32();
                string content = a.GetProperty("content").GetString() ?? "";
                if (id < 0 || id > 10_000_000) throw new ModelFormatException(jsonPath, $"bad added token id {id}");
                added.Add((id, content, Bool(a, "special"), Bool(a, "lstrip"), Bool(a, "rstrip")));
                byId[id] = content;
            }
        }
        int n = byId.Count == 0 ? 0 : byId.Keys.Max() + 1;
        if (n == 0) throw new ModelFormatException(jsonPath, "empty vocabulary");

        bool byteLevel = Section(root, "pre_tokenizer").Contains("\"ByteLevel\"") || Section(root, "decoder").Contains("\"ByteLevel\"");
        var tokens = new string[n];
        var attrs = new TokenAttributes[n];
        for (int i = 0; i < n; i++)
        {
            tokens[i] = byId.TryGetValue(i, out var s) ? s : $"[PAD{i}]";
            attrs[i] = !byteLevel && Regex.IsMatch(tokens[i], "^<0x[0-9A-Fa-f]{2}>$") ? TokenAttributes.Byte : TokenAttributes.Normal;
        }
        foreach (var a in added)
        {
            attrs[a.Id] = a.Special ? TokenAttributes.Control : TokenAttributes.UserDefined;
            if (a.LStrip) attrs[a.Id] |= TokenAttributes.LStrip;
            if (a.RStrip) attrs[a.Id] |= TokenAttributes.RStrip;
        }

        VocabSpec spec;
        if (byteLevel)
        {
            var merges = ReadMerges(jsonPath, model);
            spec = new VocabSpec
            {
                Source = jsonPath, Kind = TokenizerKind.Bpe, Tokens = tokens, Scores = new float[n], Attributes = attrs,
                Merges = merges, Pre = DetectPre(root),
            };
            spec.ApplyDefaults();
            spec.Bos = spec.Eos = -1;
            if (model.TryGetProperty("ignore_merges", out var im) && im.ValueKind == JsonValueKind.True) spec.IgnoreMerges = true;
        }
        else
        {
            var scores = new float[n];
            Array.Fill(scores, -1000f);
            spec = new VocabSpec { Source = jsonPath, Kind = TokenizerKind.Spm, Tokens = tokens, Scores = scores, Attributes = attrs };
            spec.ApplyDefaults();
            string raw = root.TryGetProperty("normalizer", out var norm) ? norm.GetRawText() : "";
            string pre = root.TryGetProperty("pre_tokenizer", out var pt) ? pt.GetRawText() : "";
            spec.AddSpacePrefix = raw.Contains("\"Prepend\"") || (pre.Contains("Metaspace") && !pre.Contains("\"never\""));
        }
        int Lookup(string? s) => s is not null && Array.IndexOf(tokens, s) is var i and >= 0 ? i : -1;
        if (model.TryGetProperty("unk_token", out var unk) && unk.ValueKind == JsonValueKind.String) spec.Unk = Lookup(unk.GetString());
        else if (spec.Kind == TokenizerKind.Spm) spec.Unk = -1;

        if (config is not null)
        {
            var c = config.RootElement;
            if (TokenText(c, "bos_token") is { } bos) spec.Bos = Lookup(bos);
            if (TokenText(c, "eos_token") is { } eos) spec.Eos = Lookup(eos);
            if (TokenText(c, "unk_token") is { } u) spec.Unk = Lookup(u);
            if (TokenText(c, "pad_token") is { } pad) spec.Pad = Lookup(pad);
            if (c.TryGetProperty("add_bos_token", out var ab) && ab.ValueKind is JsonValueKind.True or JsonValueKind.False) spec.AddBos = ab.GetBoolean();
            if (c.TryGetProperty("add_eos_token", out var ae) && ae.ValueKind is JsonValueKind.True or JsonValueKind.False) spec.AddEos = ae.GetBoolean();
            if (c.TryGetProperty("chat_template", out var ct) && ct.ValueKind == JsonValueKind.String) spec.ChatTemplate = ct.GetString();
        }
        if (spec.AddBos && spec.Bos < 0) spec.AddBos = false;
        if (spec.AddEos && spec.Eos < 0) spec.AddEos = false;
        return spec;
    }

    private static JsonDocument Parse(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new ModelFormatException(path, $"cannot read JSON: {e.Message}", e);
        }
    }

    private static string Section(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v.GetRawText() : "";

    private static bool Bool(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private static string? TokenText(JsonElement c, string name)
    {
        if (!c.TryGetProperty(name, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var content) => content.GetString(),
            _ => null,
        };
    }

    private static (string, string)[] ReadMerges(string path, JsonElement model)
    {
        if (!model.TryGetProperty("merges", out var m) || m.ValueKind != JsonValueKind.Array) throw new ModelFormatException(path, "model.merges missing");
        var raw = new List<string>();
        foreach (var e in m.EnumerateArray())
        {
            if (e.ValueKind == JsonValueKind.String) raw.Add(e.GetString()!);
            else if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() == 2) raw.Add(e[0].GetString() + " " + e[1].GetString());
            else throw new ModelFormatException(path, "a merge is neither \"a b\" nor [a, b]");
        }
        return GgufTokenizerLoader.ParseMerges(path, [.. raw]);
    }

    /// <summary>Recognises the pre-tokenizer by its split pattern, the way the converter's known hashes do for common models.</summary>
    private static string DetectPre(JsonElement root)
    {
        string raw = root.TryGetProperty("pre_tokenizer", out var pt) ? pt.GetRawText() : "";
        if (raw.Contains("\\\\p{N}{1,3}")) return "llama3";
        if (raw.Contains("\\\\p{N}|")) return "qwen2";
        if (raw.Contains("ByteLevel") && !raw.Contains("\"Split\"")) return "gpt-2";
        return "default";
    }
}
