using System.Text;
using Loom.Models.Formats.Gguf;

namespace Loom.Models.Tokenizers;

/// <summary>
/// Text to token ids and back, behaving like llama.cpp's vocabulary (SPM, byte-level BPE and WordPiece),
/// including special-token parsing, BOS/EOS rules and the detokenizer's space handling. Thread-safe.
/// </summary>
public sealed class Tokenizer
{
    private readonly VocabSpec _spec;
    private readonly Vocabulary _vocab;
    private readonly SpecialTokenPartitioner _partitioner;
    private readonly TokenPieces _pieces;
    private readonly SpmEncoder? _spm;
    private readonly BpeEncoder? _bpe;
    private readonly WpmEncoder? _wpm;

    internal Tokenizer(VocabSpec spec)
    {
        _spec = spec;
        _vocab = new Vocabulary(spec);
        _vocab.ByteFallbackUnknown = spec.Unk;
        FinishSpecialTokens(spec, _vocab);
        EndOfGenerationIds = EndOfGeneration(spec, _vocab);
        var specials = Enumerable.Range(0, _vocab.Count)
            .Where(id => (_vocab.Attributes[id] & (TokenAttributes.Control | TokenAttributes.UserDefined | TokenAttributes.Unknown)) != 0)
            .OrderByDescending(id => Encoding.UTF8.GetByteCount(_vocab.Tokens[id]))
            .ThenBy(id => id)
            .ToArray();
        ApplyModelAttributeQuirks(spec, _vocab, specials);
        _partitioner = new SpecialTokenPartitioner(_vocab, specials);
        _pieces = new TokenPieces(_vocab);
        switch (spec.Kind)
        {
            case TokenizerKind.Spm: _spm = new SpmEncoder(_vocab); break;
            case TokenizerKind.Wpm: _wpm = new WpmEncoder(_vocab, spec.Unk); break;
            case TokenizerKind.Bpe:
                var patterns = PreTokenizer.PatternsFor(spec.Pre)
                    ?? throw new ModelFormatException(spec.Source, $"unknown pre-tokenizer type '{spec.Pre}'");
                _bpe = new BpeEncoder(_vocab, new PreTokenizer(patterns), spec.Merges, spec.IgnoreMerges);
                break;
        }
    }

    /// <summary>Reads a tokenizer from GGUF <c>tokenizer.ggml.*</c> metadata.</summary>
    public static Tokenizer FromGguf(GgufFile file) => new(GgufTokenizerLoader.Load(file));

    /// <summary>Reads a Hugging Face <c>tokenizer.json</c>, with <c>tokenizer_config.json</c> for BOS/EOS settings and the chat template.</summary>
    public static Tokenizer FromHuggingFace(string tokenizerJsonPath, string? tokenizerConfigPath = null) =>
        new(HuggingFaceTokenizerLoader.Load(tokenizerJsonPath, tokenizerConfigPath));

    /// <summary>Reads llama2.c's <c>tokenizer.bin</c> and tokenizes it as llama.cpp's SPM would (BOS 1, EOS 2).</summary>
    public static Tokenizer FromLlama2c(string tokenizerBinPath, int vocabSize) =>
        new(Llama2cTokenizerLoader.Load(tokenizerBinPath, vocabSize));

    public TokenizerKind Kind => _spec.Kind;
    public int VocabSize => _vocab.Count;
    /// <summary>Beginning-of-sequence id, -1 when the vocabulary has none.</summary>
    public int BosId => _spec.Bos;
    /// <summary>End-of-sequence id, -1 when the vocabulary has none.</summary>
    public int EosId => _spec.Eos;
    /// <summary>Unknown-token id, -1 when absent.</summary>
    public int UnknownId => _spec.Unk;
    /// <summary>Separator id (WordPiece appends it with special tokens), -1 when absent.</summary>
    public int SeparatorId => _spec.Sep;
    public bool AddBos => _spec.AddBos;
    public bool AddEos => _spec.AddEos;
    /// <summary>SPM: a space is put before the text (and dropped again from the first decoded piece).</summary>
    public bool AddSpacePrefix => _spec.AddSpacePrefix;
    /// <summary>Decoding removes spaces before punctuation and contractions, as llama.cpp does for this vocabulary.</summary>
    public bool CleanSpaces => _spec.CleanSpaces;
    /// <summary>The BPE pre-tokenizer name (<c>tokenizer.ggml.pre</c>).</summary>
    public string PreTokenizerName => _spec.Pre;
    /// <summary>Ids that end generation: EOS, EOT, EOM and tokens like &lt;|im_end|&gt;, as llama.cpp's EOG set.</summary>
    public IReadOnlySet<int> EndOfGenerationIds { get; }
    /// <summary>The Jinja chat template, if the file has one.</summary>
    public string? ChatTemplate => _spec.ChatTemplate;

    /// <summary>The token's vocabulary string (e.g. "▁the", "Ġthe", "&lt;0x0A&gt;").</summary>
    public string TokenPiece(int id) => _vocab.Tokens[CheckId(id)];

    /// <summary>The token's score (SPM merge priority); 0 when the file has none.</summary>
    public float TokenScore(int id) => _vocab.Scores[CheckId(id)];

    /// <summary>True for control and user-defined tokens (and the unknown token).</summary>
    public bool IsSpecial(int id) =>
        (_vocab.Attributes[CheckId(id)] & (TokenAttributes.Control | TokenAttributes.UserDefined | TokenAttributes.Unknown)) != 0;

    /// <summary>True for end-of-generation tokens.</summary>
    public bool IsEndOfGeneration(int id) => EndOfGenerationIds.Contains(id);

    /// <summary>The id of a token string, or -1.</summary>
    public int TokenToId(string piece) => _vocab.Find(piece);

    /// <summary>
    /// Tokenizes like llama.cpp's <c>llama_tokenize</c>: <paramref name="addSpecial"/> adds BOS/EOS as the model asks
    /// (WordPiece: CLS/SEP); <paramref name="parseSpecial"/> turns control-token text such as "&lt;s&gt;" into the token.
    /// </summary>
    public int[] Encode(string text, bool addSpecial = true, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<int>(text.Length / 3 + 4);
        var fragments = _partitioner.Partition(text, parseSpecial);
        switch (_spec.Kind)
        {
            case TokenizerKind.Spm:
            {
                if (addSpecial && _spec.AddBos) output.Add(RequireId(_spec.Bos, "BOS"));
                bool prevSpecial = true; // the first text gets the space prefix
                foreach (var f in fragments)
                {
                    if (!f.IsText) { output.Add(f.Token); prevSpecial = true; continue; }
                    var piece = text.AsSpan(f.Offset, f.Length);
                    string escaped = (_spec.AddSpacePrefix && prevSpecial ? " " + piece.ToString() : piece.ToString()).Replace(' ', '\u2581');
                    _spm!.Encode(escaped, output);
                    prevSpecial = false;
                }
                if (addSpecial && _spec.AddEos) output.Add(RequireId(_spec.Eos, "EOS"));
                break;
            }
            case TokenizerKind.Bpe:
            {
                if (addSpecial && _spec.AddBos) output.Add(RequireId(_spec.Bos, "BOS"));
                foreach (var f in fragments)
                {
                    if (f.IsText) _bpe!.Encode(text.Substring(f.Offset, f.Length), output);
                    else output.Add(f.Token);
                }
                if (addSpecial && _spec.AddEos) output.Add(RequireId(_spec.Eos, "EOS"));
                break;
            }
            case TokenizerKind.Wpm:
            {
                if (addSpecial) output.Add(RequireId(_spec.Bos, "BOS"));
                foreach (var f in fragments)
                {
                    if (f.IsText) _wpm!.Encode(text.Substring(f.Offset, f.Length), output);
                    else output.Add(f.Token);
                }
                if (addSpecial) output.Add(RequireId(_spec.Sep, "SEP"));
                break;
            }
        }
        return [.. output];
    }

    /// <summary>
    /// Detokenizes like llama.cpp's <c>common_detokenize</c>: the first piece loses one leading space when the
    /// vocabulary adds a space prefix; control tokens print only when <paramref name="skipSpecial"/> is false;
    /// bytes that are not valid UTF-8 become U+FFFD.
    /// </summary>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecial = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>(ids.Count * 4);
        for (int i = 0; i < ids.Count; i++) bytes.AddRange(PieceBytes(ids[i], i == 0, skipSpecial));
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes);
        int n = _spec.CleanSpaces ? SpaceCleaner.Clean(span) : span.Length;
        return Encoding.UTF8.GetString(span[..n]);
    }

    /// <summary>
    /// A streaming decoder whose outputs concatenate to <see cref="Decode"/> of the same ids. With
    /// <paramref name="continuesText"/> the tokens follow earlier text (a completion after its prompt), so the
    /// first one keeps its leading space instead of having it stripped as at the start of a text.
    /// </summary>
    public IncrementalDecoder CreateDecoder(bool skipSpecial = true, bool continuesText = false) => new(this, skipSpecial, continuesText);

    /// <summary>
    /// As <see cref="CreateDecoder(bool, bool)"/>, with llama.cpp's space cleaning turned off when
    /// <paramref name="cleanSpaces"/> is false, so the text is exactly the tokens' bytes (structured output needs the
    /// text the constraint matched, not one with spaces before punctuation dropped).
    /// </summary>
    public IncrementalDecoder CreateDecoder(bool skipSpecial, bool continuesText, bool cleanSpaces) =>
        new(this, skipSpecial, continuesText, cleanSpaces && CleanSpaces);

    /// <summary>
    /// The bytes token <paramref name="id"/> adds to generated text (a continuation, so no leading-space rule; control
    /// and unknown tokens add none). Byte-fallback tokens are their one byte, so a piece may be part of a UTF-8 character.
    /// </summary>
    public ReadOnlySpan<byte> TokenBytes(int id) => PieceBytes(id, first: false, skipSpecial: true);

    /// <summary>The bytes one token contributes; <paramref name="first"/> applies the leading-space rule.</summary>
    internal ReadOnlySpan<byte> PieceBytes(int id, bool first, bool skipSpecial)
    {
        var piece = _pieces.Get(CheckId(id), !skipSpecial);
        if (first && _spec.AddSpacePrefix && piece.Length > 0 && piece[0] == (byte)' ') piece = piece[1..];
        return piece;
    }

    internal Vocabulary Vocabulary => _vocab;
    internal BpeEncoder? Bpe => _bpe;

    private int CheckId(int id) =>
        (uint)id < (uint)_vocab.Count ? id : throw new ArgumentOutOfRangeException(nameof(id), id, $"token id outside the vocabulary of {_vocab.Count}");

    private int RequireId(int id, string what) =>
        id >= 0 ? id : throw new InvalidOperationException($"{_spec.Source}: the model asks for a {what} token but has none");

    /// <summary>llama.cpp finds EOT/EOM/FIM tokens by their text when metadata does not name them, and marks them control.</summary>
    private static void FinishSpecialTokens(VocabSpec spec, Vocabulary vocab)
    {
        int Detect(int current, params string[] texts)
        {
            if (current >= 0) return current;
            for (int id = 0; id < vocab.Count; id++)
            {
                if (Array.IndexOf(texts, vocab.Tokens[id]) < 0) continue;
                vocab.Attributes[id] |= TokenAttributes.Control;
                return id;
            }
            return -1;
        }
        spec.Eot = Detect(spec.Eot, "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "<｜end▁of▁sentence｜>");
        spec.Eom = Detect(spec.Eom, "<|eom_id|>");
        spec.FimPre = Detect(spec.FimPre, "<|fim_prefix|>", "<fim-prefix>", "<｜fim▁begin｜>", "<PRE>");
        spec.FimSuf = Detect(spec.FimSuf, "<|fim_suffix|>", "<fim-suffix>", "<｜fim▁hole｜>", "<SUF>");
        spec.FimMid = Detect(spec.FimMid, "<|fim_middle|>", "<fim-middle>", "<｜fim▁end｜>", "<MID>");
        spec.FimPad = Detect(spec.FimPad, "<|fim_pad|>", "<fim-pad>", "<PAD>");
        spec.FimRep = Detect(spec.FimRep, "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>");
        spec.FimSep = Detect(spec.FimSep, "<|file_sep|>");
    }

    private static HashSet<int> EndOfGeneration(VocabSpec spec, Vocabulary vocab)
    {
        var eog = new HashSet<int>();
        foreach (int id in new[] { spec.FimPad, spec.FimRep, spec.FimSep }) if (id >= 0) eog.Add(id);
        string[] texts = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>"];
        for (int id = 0; id < vocab.Count; id++)
        {
            if (Array.IndexOf(texts, vocab.Tokens[id]) < 0) continue;
            eog.Add(id);
            vocab.Attributes[id] |= TokenAttributes.Control;
        }
        foreach (int id in new[] { spec.Eos, spec.Eot, spec.Eom }) if (id >= 0) eog.Add(id);
        return eog;
    }

    /// <summary>Per-model strip attributes llama.cpp sets by name because GGUF does not carry them.</summary>
    private static void ApplyModelAttributeQuirks(VocabSpec spec, Vocabulary vocab, int[] specials)
    {
        void Set(string token, TokenAttributes a, bool on)
        {
            int id = vocab.Find(token);
            if (id < 0) return;
            vocab.Attributes[id] = on ? vocab.Attributes[id] | a : vocab.Attributes[id] & ~a;
        }
        string name = spec.ModelName.ToLowerInvariant();
        if (spec.Pre.Contains("jina-v2-de") || spec.Pre.Contains("jina-v2-es") || spec.Pre.Contains("jina-v2-code"))
            Set("<mask>", TokenAttributes.LStrip, true);
        else if (name.Contains("phi-3") || name.Contains("phi3"))
        {
            foreach (int id in specials) vocab.Attributes[id] |= TokenAttributes.RStrip;
            Set("</s>", TokenAttributes.RStrip, true);
            foreach (var t in new[] { "<unk>", "<s>", "<|endoftext|>" }) Set(t, TokenAttributes.RStrip, false);
        }
    }
}
