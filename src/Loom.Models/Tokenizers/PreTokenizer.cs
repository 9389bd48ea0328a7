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

    /// <summary>The patterns for a pre-tokenizer name, as llama.cpp maps them; null for a name it does not know.</summary>
    public static string[]? PatternsFor(string pre) => pre switch
    {
        "default" or "" => ["[\\p{P}\\$\\+<=>\\^~\\|]+", Gpt2Like, "\\p{N}+", "[0-9][0-9][0-9]"],
        "llama3" or "llama-v3" or "llama-bpe" or "falcon3" or "dbrx" or "smaug-bpe" or "chatglm-bpe" => [Llama3Splitter.Pattern],
        "deepseek-llm" =>
        [
            "[\r\n]",
            "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
            "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
            "\\s+$",
            "[一-龥ࠀ-一가-퟿]+",
            "\\p{N}+",
        ],
        "deepseek-v3" =>
        [
            "\\p{N}{1,3}",
            "[一-龥぀-ゟ゠-ヿ]+",
            "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
        ],
        "deepseek-coder" => ["[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"],
        "falcon" => ["[\\p{P}\\$\\+<=>\\^~\\|`]+", Gpt2Like, "[0-9][0-9][0-9]"],
        "starcoder" or "refact" or "command-r" or "smollm" or "codeshell" or "exaone" or "minerva-7b" => ["\\p{N}", Gpt2Like],
        "gpt-2" or "phi-2" or "jina-es" or "jina-de" or "gigachat" or "jina-v1-en" or "jina-v2-es" or "jina-v2-de"
            or "jina-v2-code" or "roberta-bpe" or "mpt" or "olmo" or "jais" => [Gpt2Like],
        "qwen2" or "deepseek-r1-qwen" or "megrez" or "stablelm2" =>
            ["(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
        "poro-chat" or "bloom" or "gpt3-finnish" => [" ?[^(\\s|.,!?…。，、।۔،)]+"],
        "viking" => [" ?[^(\\s|.,!?…。，、।۔،)]+", "\\p{N}"],
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
