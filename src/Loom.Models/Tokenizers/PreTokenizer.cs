namespace Loom.Models.Tokenizers;

/// <summary>
/// Splits text into words for byte-level BPE with the pattern list llama.cpp picks for a <c>tokenizer.ggml.pre</c> value,
/// then spells each word's UTF-8 bytes as byte-level characters.
/// </summary>
internal sealed class PreTokenizer
{
    private readonly Func<int[], List<int>, List<int>>[] _steps;

    public PreTokenizer(IReadOnlyList<string> patterns)
    {
        Patterns = patterns;
        _steps = patterns.Select(Step).ToArray();
    }

    public IReadOnlyList<string> Patterns { get; }

    private static Func<int[], List<int>, List<int>> Step(string pattern)
    {
        if (pattern == Gpt2Splitter.Pattern) return Gpt2Splitter.Split;
        if (pattern == Llama3Splitter.Pattern || pattern == Llama3Splitter.PatternCaseInsensitive) return Llama3Splitter.Split;
        return new RegexSplitter(pattern).Split;
    }

    /// <summary>The byte-level spelled words of a text.</summary>
    public List<string> Split(string text)
    {
        var cpts = UnicodeFlags.CodePoints(text);
        var chunks = new List<int> { cpts.Length };
        foreach (var step in _steps) chunks = step(cpts, chunks);
        var words = new List<string>(chunks.Count);
        int start = 0;
        foreach (int len in chunks)
        {
            words.Add(ByteLevel.Encode(cpts.AsSpan(start, len)));
            start += len;
        }
        return words;
    }

    private const string Gpt2Like = Gpt2Splitter.Pattern;

    /// <summary>Every <c>tokenizer.ggml.pre</c> value llama.cpp accepts.</summary>
    public static readonly string[] KnownNames =
    [
        "default", "llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe", "chatglm-bpe", "deepseek-llm", "deepseek-v3",
        "deepseek-coder", "falcon", "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "gpt-2",
        "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code", "roberta-bpe", "mpt",
        "olmo", "jais", "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "poro-chat", "bloom", "gpt3-finnish", "viking",
        "tekken", "chameleon",
    ];

    /// <summary>The patterns for a pre-tokenizer name, as llama.cpp maps them; null for a name it does not know.</summary>
    public static string[]? PatternsFor(string pre) => pre switch
    {
        "default" or "" => ["[\\p{P}\\$\\+<=>\\^~\\|]+", Gpt2Like, "\\p{N}+", "[0-9][0-9][0-9]"],
        "llama3" or "llama-v3" or "llama-bpe" or "falcon3" or "dbrx" or "smaug-bpe" or "chatglm-bpe" => [Llama3Splitter.Pattern],
        "deepseek-llm" =>
        [
            "[\r\n]",
            "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+",
            "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+",
            "\\s+$",
            "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+",
            "\\p{N}+",
        ],
        "deepseek-v3" =>
        [
            "\\p{N}{1,3}",
            "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+",
            "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
        ],
        "deepseek-coder" => ["[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+", "\\p{N}"],
        "falcon" => ["[\\p{P}\\$\\+<=>\\^~\\|`]+", Gpt2Like, "[0-9][0-9][0-9]"],
        "starcoder" or "refact" or "command-r" or "smollm" or "codeshell" or "exaone" or "minerva-7b" => ["\\p{N}", Gpt2Like],
        "gpt-2" or "phi-2" or "jina-es" or "jina-de" or "gigachat" or "jina-v1-en" or "jina-v2-es" or "jina-v2-de"
            or "jina-v2-code" or "roberta-bpe" or "mpt" or "olmo" or "jais" => [Gpt2Like],
        "qwen2" or "deepseek-r1-qwen" or "megrez" or "stablelm2" =>
            ["(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
        "poro-chat" or "bloom" or "gpt3-finnish" => [" ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+"],
        "viking" => [" ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+", "\\p{N}"],
        "tekken" =>
            ["[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
        "chameleon" =>
        [
            "<sentinel:[0-9]+>",
            "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
            "([\\t\\n]|    |  )",
            "\\p{N}",
            "[\\p{P}!-/:-@\\[-`{-~]",
            Gpt2Like,
        ],
        _ => null,
    };
}
