using Loom.Models.Formats.Gguf;

namespace Loom.Models.Tokenizers;

/// <summary>Builds a <see cref="VocabSpec"/> from <c>tokenizer.ggml.*</c> metadata, refusing inconsistent metadata.</summary>
internal static class GgufTokenizerLoader
{
    public static VocabSpec Load(GgufFile file)
    {
        string path = file.Path;
        string model = file.GetString("tokenizer.ggml.model") ?? throw new ModelFormatException(path, "missing tokenizer.ggml.model");
        var kind = model switch
        {
            "llama" => TokenizerKind.Spm,
            "gpt2" => TokenizerKind.Bpe,
            "bert" => TokenizerKind.Wpm,
            _ => throw new ModelFormatException(path, $"unsupported tokenizer model '{model}'"),
        };

        var tokens = file.GetArray("tokenizer.ggml.tokens")?.Values as string[]
            ?? throw new ModelFormatException(path, "missing or non-string tokenizer.ggml.tokens");
        if (tokens.Length == 0) throw new ModelFormatException(path, "tokenizer.ggml.tokens is empty");
        tokens = (string[])tokens.Clone();

        var scores = new float[tokens.Length];
        if (file.GetArray("tokenizer.ggml.scores") is { } scoreArray)
        {
            if (scoreArray.Values is not float[] s) throw new ModelFormatException(path, "tokenizer.ggml.scores is not float32");
            if (s.Length != tokens.Length) throw new ModelFormatException(path, $"tokenizer.ggml.scores has {s.Length} entries for {tokens.Length} tokens");
            s.CopyTo(scores, 0);
        }

        var attrs = new TokenAttributes[tokens.Length];
        if (file.GetArray("tokenizer.ggml.token_type") is { } typeArray)
        {
            if (typeArray.Values is not int[] types) throw new ModelFormatException(path, "tokenizer.ggml.token_type is not int32");
            if (types.Length != tokens.Length) throw new ModelFormatException(path, $"tokenizer.ggml.token_type has {types.Length} entries for {tokens.Length} tokens");
            for (int i = 0; i < types.Length; i++) attrs[i] = TokenTypes.FromGgufType(types[i]);
        }
        else Array.Fill(attrs, TokenAttributes.Normal);

        (string, string)[] merges = [];
        if (kind == TokenizerKind.Bpe)
        {
            var raw = file.GetArray("tokenizer.ggml.merges")?.Values as string[]
                ?? throw new ModelFormatException(path, "missing or non-string tokenizer.ggml.merges");
            merges = ParseMerges(path, raw);
        }

        var spec = new VocabSpec
        {
            Source = path, Kind = kind, Tokens = tokens, Scores = scores, Attributes = attrs, Merges = merges,
            Pre = kind == TokenizerKind.Bpe ? file.GetString("tokenizer.ggml.pre") ?? "default" : "default",
            ModelName = file.GetString("general.name") ?? "",
        };
        if (kind == TokenizerKind.Bpe && PreTokenizer.PatternsFor(spec.Pre) is null)
            throw new ModelFormatException(path, $"unknown pre-tokenizer type '{spec.Pre}'");
        spec.ApplyDefaults();
        spec.AddSpacePrefix = file.GetBool("tokenizer.ggml.add_space_prefix") ?? spec.AddSpacePrefix;

        spec.Bos = Id(file, "tokenizer.ggml.bos_token_id", spec.Bos, tokens.Length);
        spec.Eos = Id(file, "tokenizer.ggml.eos_token_id", spec.Eos, tokens.Length);
        spec.Eot = Id(file, "tokenizer.ggml.eot_token_id", spec.Eot, tokens.Length);
        spec.Eom = Id(file, "tokenizer.ggml.eom_token_id", spec.Eom, tokens.Length);
        spec.Unk = Id(file, "tokenizer.ggml.unknown_token_id", spec.Unk, tokens.Length);
        spec.Sep = Id(file, "tokenizer.ggml.seperator_token_id", spec.Sep, tokens.Length);
        spec.Pad = Id(file, "tokenizer.ggml.padding_token_id", spec.Pad, tokens.Length);
        spec.FimPre = Id(file, "tokenizer.ggml.fim_pre_token_id", spec.FimPre, tokens.Length);
        spec.FimSuf = Id(file, "tokenizer.ggml.fim_suf_token_id", spec.FimSuf, tokens.Length);
        spec.FimMid = Id(file, "tokenizer.ggml.fim_mid_token_id", spec.FimMid, tokens.Length);
        spec.FimPad = Id(file, "tokenizer.ggml.fim_pad_token_id", spec.FimPad, tokens.Length);
        spec.FimRep = Id(file, "tokenizer.ggml.fim_rep_token_id", spec.FimRep, tokens.Length);
        spec.FimSep = Id(file, "tokenizer.ggml.fim_sep_token_id", spec.FimSep, tokens.Length);
        spec.FimPre = Id(file, "tokenizer.ggml.prefix_token_id", spec.FimPre, tokens.Length);
        spec.FimSuf = Id(file, "tokenizer.ggml.suffix_token_id", spec.FimSuf, tokens.Length);
        spec.FimMid = Id(file, "tokenizer.ggml.middle_token_id", spec.FimMid, tokens.Length);
        // Defaults (e.g. SPM's BOS 1) may not exist in a tiny vocabulary; treat those as absent.
        spec.Bos = InRange(spec.Bos, tokens.Length); spec.Eos = InRange(spec.Eos, tokens.Length);
        spec.Unk = InRange(spec.Unk, tokens.Length); spec.Sep = InRange(spec.Sep, tokens.Length);
        spec.Pad = InRange(spec.Pad, tokens.Length);

        spec.AddBos = file.GetBool("tokenizer.ggml.add_bos_token") ?? spec.AddBos;
        spec.AddEos = file.GetBool("tokenizer.ggml.add_eos_token") ?? spec.AddEos;
        spec.ChatTemplate = file.GetString("tokenizer.chat_template");
        return spec;
    }

    private static int InRange(int id, int n) => id < n ? id : -1;

    /// <summary>
    /// An id from metadata. The all-ones value (-1 as uint32) means "none", as converters write it;
    /// any other value outside the vocabulary is corrupt.
    /// </summary>
    private static int Id(GgufFile file, string key, int fallback, int vocabSize)
    {
        long? v = file.GetInteger(key);
        if (v is null) return fallback;
        if (v == uint.MaxValue || v == -1) return fallback;
        if (v < 0 || v >= vocabSize) throw new ModelFormatException(file.Path, $"{key} = {v} is outside the vocabulary of {vocabSize} tokens");
        return (int)v;
    }

    internal static (string, string)[] ParseMerges(string path, string[] raw)
    {
        var merges = new (string, string)[raw.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            string m = raw[i];
            int space = m.Length > 1 ? m.IndexOf(' ', 1) : -1;
            if (space < 0 || space == m.Length - 1)
                throw new ModelFormatException(path, $"merge {i} '{m}' is not two tokens separated by a space");
            merges[i] = (m[..space], m[(space + 1)..]);
        }
        return merges;
    }
}
