using System.Text;
using Loom.Models.Formats.Gguf;
using Loom.Models.Tokenizers;
using Loom.Tests;

namespace Loom.Models.Tests;

/// <summary>Round trips, streaming decode, and the hand-written splitters against the general regex path.</summary>
public sealed class TokenizerPropertyTests
{
    private static Tokenizer Load(string relative) => LoadFile(SharedData.Path(relative));

    private static Tokenizer LoadFile(string path)
    {
        using var gguf = GgufFile.Open(path);
        return Tokenizer.FromGguf(gguf);
    }

    /// <summary>Random valid Unicode: ASCII, Latin, CJK, combining marks, astral (emoji, Gothic) and odd whitespace.</summary>
    internal static string RandomUnicode(Random rng, int maxLength)
    {
        var sb = new StringBuilder();
        int n = rng.Next(0, maxLength);
        for (int i = 0; i < n; i++)
        {
            int cp = rng.Next(8) switch
            {
                0 or 1 => rng.Next(0x20, 0x7F),
                2 => " \n\t\r"[rng.Next(4)],
                3 => rng.Next(0xA0, 0x250),
                4 => rng.Next(0x4E00, 0x4F00),
                5 => rng.Next(0x300, 0x370),
                6 => rng.Next(0x1F300, 0x1F650),
                _ => new[] { 0x3000, 0x2028, 0x85, 0xA0, 0x10348, 0x1D11E, 0x200B }[rng.Next(7)],
            };
            sb.Append(char.ConvertFromUtf32(cp));
        }
        return sb.ToString();
    }

    [SharedTheory]
    [InlineData("models/vocab/ggml-vocab-deepseek-coder.gguf")]
    [InlineData("models/vocab/ggml-vocab-deepseek-llm.gguf")]
    [InlineData("models/vocab/ggml-vocab-gpt-2.gguf")]
    public void ByteLevelBpeRoundTripsExactly(string vocab)
    {
        var tok = Load(vocab);
        var rng = new Random(7);
        for (int i = 0; i < 300; i++)
        {
            string s = RandomUnicode(rng, 40);
            // gpt-2 cleans " ?" style spaces on decode, as llama.cpp does; compare against that.
            string expected = tok.CleanSpaces ? CleanLikeLlama(s) : s;
            Assert.Equal(expected, tok.Decode(tok.Encode(s, addSpecial: false)));
        }
    }

    private static string CleanLikeLlama(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        int n = SpaceCleaner.Clean(b);
        return Encoding.UTF8.GetString(b, 0, n);
    }

    [SharedFact]
    public void SpmRoundTripsModuloLeadingSpace()
    {
        var tok = Load("models/vocab/ggml-vocab-llama-spm.gguf");
        var rng = new Random(8);
        for (int i = 0; i < 300; i++)
        {
            string s = RandomUnicode(rng, 40);
            Assert.Equal(s, tok.Decode(tok.Encode(s, addSpecial: false)));
            // With BOS first, llama.cpp keeps the prefix space of the first text piece.
            Assert.Equal(s.Length == 0 ? "" : " " + s, tok.Decode(tok.Encode(s, addSpecial: true)));
        }
    }

    [SharedTheory]
    [InlineData("models/vocab/ggml-vocab-llama-spm.gguf")]
    [InlineData("models/vocab/ggml-vocab-gpt-2.gguf")]
    [InlineData("models/vocab/ggml-vocab-deepseek-llm.gguf")]
    [InlineData("models/vocab/ggml-vocab-bert-bge.gguf")]
    [InlineData("models/stories260K/stories260K.gguf")]
    public void IncrementalDecodingConcatenatesToDecode(string vocab)
    {
        var tok = Load(vocab);
        var rng = new Random(9);
        for (int i = 0; i < 200; i++)
        {
            string s = RandomUnicode(rng, 40) + " it's ok ? 'll 're";
            foreach (bool skip in new[] { true, false })
            {
                var ids = tok.Encode(s, addSpecial: true);
                var dec = tok.CreateDecoder(skip);
                var sb = new StringBuilder();
                foreach (int id in ids)
                {
                    string chunk = dec.Add(id);
                    Assert.DoesNotContain('\uFFFD', chunk);
                    sb.Append(chunk);
                }
                sb.Append(dec.Flush());
                Assert.Equal(tok.Decode(ids, skip), sb.ToString());
            }
        }
    }

    [Fact]
    public void ContinuationDecoderKeepsTheFirstLeadingSpace()
    {
        // A completion's first token follows its prompt: " big" after "Lily saw a" keeps its space, as in llama.cpp.
        var tok = LoadFile(RepoModels.Stories260K);
        var prompt = tok.Encode("Lily saw a", addSpecial: true);
        var full = tok.Encode("Lily saw a big dog", addSpecial: true);
        Assert.Equal(prompt, full[..prompt.Length]);
        var dec = tok.CreateDecoder(continuesText: true);
        var sb = new System.Text.StringBuilder();
        foreach (int id in full[prompt.Length..]) sb.Append(dec.Add(id));
        sb.Append(dec.Flush());
        Assert.Equal(" big dog", sb.ToString());
        Assert.Equal("big dog", tok.Decode(full[prompt.Length..]));
    }

    [Fact]
    public void ByteTokensSplitMultiByteCharactersWithoutReplacementChunks()
    {
        var tok = LoadFile(RepoModels.Stories260K);
        var ids = tok.Encode("é🦙日", addSpecial: false);
        Assert.True(ids.Length >= 9, "expected byte fallback tokens");
        var dec = tok.CreateDecoder();
        var chunks = ids.Select(dec.Add).ToList();
        chunks.Add(dec.Flush());
        Assert.All(chunks, c => Assert.DoesNotContain('\uFFFD', c));
        Assert.Equal("é🦙日", string.Concat(chunks).TrimStart());
    }

    private const string Ascii = "ab Z09 '\n\r\t.,!s?dllreve";

    [Fact]
    public void FastSplittersAgreeWithRegexReference()
    {
        var gpt2 = new RegexSplitter(Gpt2Splitter.Pattern);
        var llama3 = new RegexSplitter(Llama3Splitter.Pattern);
        var rng = new Random(10);
        for (int i = 0; i < 2000; i++)
        {
            // ASCII plus letters/numbers outside ASCII; llama.cpp's own fast paths and std::regex differ on exotic whitespace.
            var sb = new StringBuilder();
            int n = rng.Next(0, 30);
            for (int j = 0; j < n; j++)
                sb.Append(rng.Next(6) == 0 ? "éß日١٢" [rng.Next(5)] : Ascii[rng.Next(Ascii.Length)]);
            var cpts = UnicodeFlags.CodePoints(sb.ToString());
            var whole = new List<int> { cpts.Length };
            Assert.Equal(gpt2.Split(cpts, whole), Gpt2Splitter.Split(cpts, whole));
            Assert.Equal(llama3.Split(cpts, whole), Llama3Splitter.Split(cpts, whole));
        }
    }

    [Fact]
    public void EveryPreTokenizerCompilesAndPreservesText()
    {
        var rng = new Random(11);
        var samples = Enumerable.Range(0, 100).Select(_ => RandomUnicode(rng, 50))
            .Append("IMGIMGABZ <sentinel:12> Hello   World\n\n  123456 it's 'LL 日本語 ok!!").ToList();
        foreach (var name in PreTokenizer.KnownNames)
        {
            var pre = new PreTokenizer(PreTokenizer.PatternsFor(name) ?? throw new Exception(name));
            foreach (var s in samples)
            {
                var words = pre.Split(s);
                Assert.DoesNotContain("", words);
                var bytes = words.SelectMany(w => w.Select(c => ByteLevel.TryCharToByte(c, out var b) ? b : throw new Exception("not byte-level"))).ToArray();
                Assert.Equal(s, Encoding.UTF8.GetString(bytes));
            }
        }
        Assert.Null(PreTokenizer.PatternsFor("no-such-pre"));
    }

    [Fact]
    public void Llama3SplitsAsDocumented()
    {
        var pre = new PreTokenizer(PreTokenizer.PatternsFor("llama3")!);
        var words = pre.Split("Hello world's 12345 !!\n\n  x").Select(w => Encoding.UTF8.GetString(w.Select(c => { ByteLevel.TryCharToByte(c, out var b); return b; }).ToArray()));
        Assert.Equal(["Hello", " world", "'s", " ", "123", "45", " !!\n\n", " ", " x"], words);
    }

    [SharedFact]
    public void EncodingIsRoughlyLinear()
    {
        var tok = Load("models/vocab/ggml-vocab-gpt-2.gguf");
        string unit = "The quick brown fox jumps over the lazy dog, 12345 times! ";
        tok.Encode(unit);
        var small = string.Concat(Enumerable.Repeat(unit, 200));
        var large = string.Concat(Enumerable.Repeat(unit, 2000));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        int a = tok.Encode(small).Length;
        long tSmall = sw.ElapsedTicks;
        sw.Restart();
        int b = tok.Encode(large).Length;
        long tLarge = sw.ElapsedTicks;
        Assert.InRange(b, a * 10 - 20, a * 10 + 20);
        Assert.True(tLarge < tSmall * 60 + System.Diagnostics.Stopwatch.Frequency / 5, $"10x input took {tLarge} vs {tSmall} ticks");
    }
}
