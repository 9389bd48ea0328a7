using System.Text.Json;
using Loom.Models.Formats.Gguf;
using Loom.Models.Tokenizers;
using Loom.Tests;

namespace Loom.Models.Tests;

/// <summary>Prompt ids in llama.cpp's reference outputs, and agreement between the formats that carry the same tokenizer.</summary>
public sealed class TokenizerReferenceTests
{
    public static TheoryData<string> ReferenceFiles()
    {
        var data = new TheoryData<string>();
        if (!SharedData.Available) { data.Add("(shared data absent)"); return data; }
        foreach (var f in Directory.GetFiles(SharedData.Path("reference"), "*.json").OrderBy(f => f)) data.Add(Path.GetFileName(f));
        return data;
    }

    [SharedTheory]
    [MemberData(nameof(ReferenceFiles))]
    public void PromptIdsMatchLlamaCpp(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedData.Path("reference/" + file)));
        string model = doc.RootElement.GetProperty("model").GetString()!;
        using var gguf = GgufFile.Open(SharedData.Path("models/" + model));
        var tok = Tokenizer.FromGguf(gguf);
        int n = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string prompt = c.GetProperty("prompt").GetString()!;
            int[] expected = c.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(expected, tok.Encode(prompt));
            n++;
        }
        Assert.True(n > 0);
    }

    internal static IEnumerable<string> SampleStrings(int count, int seed)
    {
        string[] fixedCases =
        [
            "", " ", "  ", "Once upon a time", "Lily and Tom went to the park.", "Hello, world! 123", "\n\nThe end.\n",
            "She said, \"Don't go!\"", "   leading and trailing   ", "tab\tand\rcarriage", "<|start_story|>x<|end_story|>",
            "café naïve résumé", "日本語のテキスト", "emoji 🦙🚀 ok", "a\u00A0b\u3000c",
        ];
        foreach (var s in fixedCases) yield return s;
        var rng = new Random(seed);
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?'\"\n\t-";
        for (int i = 0; i < count; i++)
        {
            var chars = new char[rng.Next(0, 60)];
            for (int j = 0; j < chars.Length; j++) chars[j] = alphabet[rng.Next(alphabet.Length)];
            yield return new string(chars);
        }
    }

    [SharedFact]
    public void HuggingFaceJsonTokenizesLikeGguf()
    {
        string dir = SharedData.Path("models/tinystories-656k");
        using var gguf = GgufFile.Open(Path.Combine(dir, "tinystories-656k-q8_0.gguf"));
        var fromGguf = Tokenizer.FromGguf(gguf);
        var fromHf = Tokenizer.FromHuggingFace(Path.Combine(dir, "tokenizer.json"), Path.Combine(dir, "tokenizer_config.json"));
        Assert.Equal(fromGguf.VocabSize, fromHf.VocabSize);
        Assert.Equal(fromGguf.BosId, fromHf.BosId);
        Assert.Equal(fromGguf.EosId, fromHf.EosId);
        Assert.Equal(fromGguf.UnknownId, fromHf.UnknownId);
        Assert.Equal(fromGguf.AddBos, fromHf.AddBos);
        Assert.Equal(fromGguf.AddEos, fromHf.AddEos);
        for (int id = 0; id < fromGguf.VocabSize; id++) Assert.Equal(fromGguf.TokenPiece(id), fromHf.TokenPiece(id));
        foreach (var s in SampleStrings(300, 1))
        {
            Assert.Equal(fromGguf.Encode(s), fromHf.Encode(s));
            Assert.Equal(fromGguf.Encode(s, false, true), fromHf.Encode(s, false, true));
        }
    }

    /// <summary>A byte-level tokenizer.json written from the GPT-2 GGUF's own vocab and merges must tokenize identically.</summary>
    [SharedFact]
    public void ByteLevelHuggingFaceJsonTokenizesLikeGguf()
    {
        string path = SharedData.Path("models/vocab/ggml-vocab-gpt-2.gguf");
        using var gguf = GgufFile.Open(path);
        var fromGguf = Tokenizer.FromGguf(gguf);
        var tokens = (string[])gguf.GetArray("tokenizer.ggml.tokens")!.Values;
        var merges = (string[])gguf.GetArray("tokenizer.ggml.merges")!.Values;
        var json = new Dictionary<string, object?>
        {
            ["added_tokens"] = new[] { new Dictionary<string, object> { ["id"] = 50256, ["content"] = tokens[50256], ["special"] = true } },
            ["normalizer"] = null,
            ["pre_tokenizer"] = new Dictionary<string, object> { ["type"] = "ByteLevel", ["add_prefix_space"] = false },
            ["decoder"] = new Dictionary<string, object> { ["type"] = "ByteLevel" },
            ["model"] = new Dictionary<string, object>
            {
                ["type"] = "BPE",
                ["vocab"] = tokens.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i),
                ["merges"] = merges,
            },
        };
        string dir = Directory.CreateTempSubdirectory("loom-hf-").FullName;
        try
        {
            string jsonPath = Path.Combine(dir, "tokenizer.json");
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(json));
            var fromHf = Tokenizer.FromHuggingFace(jsonPath);
            Assert.Equal("gpt-2", fromHf.PreTokenizerName);
            foreach (var (text, expected) in TokenizerVocabTests.Cases(path))
            {
                Assert.Equal(expected, fromHf.Encode(text, addSpecial: false));
                Assert.Equal(fromGguf.Decode(expected), fromHf.Decode(expected));
            }
            Assert.True(fromHf.IsSpecial(50256));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [SharedFact]
    public void Llama2cTokenizerBinTokenizesLikeGguf()
    {
        using var gguf = GgufFile.Open(SharedData.Path("models/stories260K/stories260K.gguf"));
        var fromGguf = Tokenizer.FromGguf(gguf);
        var fromBin = Tokenizer.FromLlama2c(SharedData.Path("models/stories260K/tok512.bin"), 512);
        Assert.Equal((1, 2), (fromBin.BosId, fromBin.EosId));
        for (int id = 0; id < 512; id++) Assert.Equal(fromGguf.TokenPiece(id), fromBin.TokenPiece(id));
        foreach (var s in SampleStrings(300, 2))
        {
            Assert.Equal(fromGguf.Encode(s), fromBin.Encode(s));
            Assert.Equal(fromGguf.Decode(fromGguf.Encode(s)), fromBin.Decode(fromBin.Encode(s)));
        }
    }

    [SharedFact]
    public void Llama2TokenizerBinTokenizesLikeLlamaSpmVocab()
    {
        using var gguf = GgufFile.Open(SharedData.Path("models/vocab/ggml-vocab-llama-spm.gguf"));
        var fromGguf = Tokenizer.FromGguf(gguf);
        var fromBin = Tokenizer.FromLlama2c(SharedData.Path("models/llama2c-tokenizer/tokenizer.bin"), 32000);
        var rng = new Random(3);
        var samples = SampleStrings(100, 4).Concat(Enumerable.Range(0, 100).Select(_ => TokenizerPropertyTests.RandomUnicode(rng, 30)));
        foreach (var s in samples) Assert.Equal(fromGguf.Encode(s), fromBin.Encode(s));
    }

    /// <summary>Every vocabulary file loads, including those without test vectors, and encodes/decodes text.</summary>
    [SharedFact]
    public void EveryVocabularyFileLoads()
    {
        foreach (var f in Directory.GetFiles(SharedData.Path("models/vocab"), "*.gguf"))
        {
            using var gguf = GgufFile.Open(f);
            var tok = Tokenizer.FromGguf(gguf);
            var ids = tok.Encode("Hello world, it's 2025!", addSpecial: false);
            Assert.NotEmpty(ids);
            Assert.Contains("world", tok.Decode(ids), StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void CategoryTableFollowsLlamaCppUnicodeVersion()
    {
        // U+1FAE9 was assigned in Unicode 16; llama.cpp's table (and so tokenization) treats it as unassigned.
        Assert.Equal(Loom.Models.Tokenizers.UnicodeFlags.Undefined, Loom.Models.Tokenizers.UnicodeFlags.Get(0x1FAE9));
        Assert.Equal(Loom.Models.Tokenizers.UnicodeFlags.Letter, Loom.Models.Tokenizers.UnicodeFlags.Get('é'));
        Assert.Equal('i', Loom.Models.Tokenizers.UnicodeFlags.ToLower(0x130));
        Assert.NotEqual(0, Loom.Models.Tokenizers.UnicodeFlags.Get(0x3000) & Loom.Models.Tokenizers.UnicodeFlags.Whitespace);
    }

    [Fact]
    public void EndOfGenerationAndSpecialTokens()
    {
        using var gguf = GgufFile.Open(RepoModels.Stories260K);
        var tok = Tokenizer.FromGguf(gguf);
        Assert.Contains(tok.EosId, tok.EndOfGenerationIds);
        Assert.True(tok.IsSpecial(tok.BosId));
        Assert.Equal(0, tok.UnknownId);
        Assert.Equal([tok.BosId, tok.BosId], tok.Encode("<s>", addSpecial: true, parseSpecial: true));
        Assert.NotEqual([tok.BosId, tok.BosId], tok.Encode("<s>", addSpecial: true, parseSpecial: false));
    }
}
