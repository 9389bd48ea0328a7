using Loom.Models.Formats.Gguf;
using Loom.Models.Tokenizers;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Models.Tests;

/// <summary>llama.cpp's tokenizer test vectors (models/vocab/*.gguf.inp/.out), run as test-tokenizer-0 does: no special tokens added, none parsed.</summary>
public sealed class TokenizerVocabTests(ITestOutputHelper output)
{
    public static TheoryData<string> VocabFiles()
    {
        var data = new TheoryData<string>();
        if (!SharedData.Available) { data.Add("(shared data absent)"); return data; }
        foreach (var f in Directory.GetFiles(SharedData.Path("models/vocab"), "*.gguf").OrderBy(f => f))
            if (File.Exists(f + ".inp") && File.Exists(f + ".out")) data.Add(Path.GetFileName(f));
        return data;
    }

    internal static (string Text, int[] Ids)[] Cases(string gguf)
    {
        var inputs = File.ReadAllText(gguf + ".inp").Split("\n__ggml_vocab_test__\n");
        var outputs = File.ReadAllText(gguf + ".out").Split('\n');
        // The .inp ends with a separator-terminated last case; .out has one line per case.
        int n = outputs.Length - (outputs[^1].Length == 0 ? 1 : 0);
        var cases = new (string, int[])[n];
        for (int i = 0; i < n; i++)
            cases[i] = (inputs[i], outputs[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray());
        return cases;
    }

    [SharedTheory]
    [MemberData(nameof(VocabFiles))]
    public void MatchesLlamaCpp(string file)
    {
        string path = SharedData.Path("models/vocab/" + file);
        using var gguf = GgufFile.Open(path);
        var tok = Tokenizer.FromGguf(gguf);
        var cases = Cases(path);
        int pass = 0;
        var failures = new List<string>();
        foreach (var (text, expected) in cases)
        {
            var actual = tok.Encode(text, addSpecial: false, parseSpecial: false);
            if (actual.SequenceEqual(expected)) pass++;
            else if (failures.Count < 8)
                failures.Add($"'{text.Replace("\n", "\\n")}': expected [{string.Join(' ', expected)}] got [{string.Join(' ', actual)}]");
        }
        output.WriteLine($"{file}: {pass}/{cases.Length} cases match");
        Assert.True(cases.Length > 10, "too few cases parsed");
        Assert.True(pass == cases.Length, $"{file}: {pass}/{cases.Length} match\n" + string.Join("\n", failures));
    }
}
