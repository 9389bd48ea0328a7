using System.Text.Json;
using Loom.Engine.Sampling;
using Loom.Models;
using Loom.Models.Quantize;
using Loom.Models.Synthetic;
using Xunit.Abstractions;

namespace Loom.Engine.Tests;

/// <summary>
/// Runs a model through the engine on every case of a llama.cpp reference recorded by ref.cpp (greedy tokens and top-5
/// log-probs) and compares: each of llama.cpp's top five must be within <c>tolerance</c> in log-prob, and the greedy
/// tokens equal until the first place where llama.cpp's own top two are closer than that (then the rest is not compared).
/// </summary>
internal static class ReferenceParity
{
    /// <summary>
    /// The file <c>loom create-model</c> writes for <paramref name="spec"/> (seed 1 unless given), loaded with
    /// <paramref name="options"/>; the file is unlinked at once, as the model keeps it mapped.
    /// </summary>
    public static LoadedModel LoadSynthetic(SyntheticModelSpec spec, LlamaFileType type, ModelLoadOptions? options = null, int seed = 1)
    {
        var dir = Directory.CreateTempSubdirectory("loom-parity-").FullName;
        try
        {
            string path = Path.Combine(dir, spec.Name + ".gguf");
            SyntheticModel.Write(path, spec, type, seed);
            return ModelLoader.Load(path, options);
        }
        finally
        {
            // The model maps the file; unlinking it leaves the mapping valid.
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// Checks <paramref name="model"/> against <paramref name="referenceFile"/> (whose recorded model file must be
    /// <paramref name="modelFile"/> when given); returns the longest prompt in tokens.
    /// </summary>
    public static async Task<int> CheckAsync(LoadedModel model, string referenceFile, double tolerance, ITestOutputHelper output,
        int minCompared = 48, string? modelFile = null)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "References", referenceFile)));
        if (modelFile is not null) Assert.Equal(modelFile, doc.RootElement.GetProperty("model").GetString());
        using var engine = new LlmEngine(model, new EngineOptions { KvCacheBytes = 16 << 20 });
        int totalCompared = 0, longest = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string prompt = c.GetProperty("prompt").GetString()!;
            var promptIds = c.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var expected = c.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var top5 = c.GetProperty("top5_logprobs").EnumerateArray().ToArray();
            Assert.Equal(promptIds, model.Tokenizer.Encode(prompt));
            longest = Math.Max(longest, promptIds.Length);
            var result = (await engine.GenerateAsync([promptIds], SamplingParams.Greedy(expected.Length) with { Logprobs = 5, IgnoreEos = true }))[0].Choices[0];

            int compared = 0;
            double maxErr = 0;
            for (int i = 0; i < expected.Length; i++)
            {
                var refTop = top5[i].GetProperty("top").EnumerateArray().ToArray();
                var lp = result.Logprobs[i];
                foreach (var pair in refTop)
                {
                    var mine = lp.Top.FirstOrDefault(t => t.TokenId == pair[0].GetInt32());
                    if (mine == default) continue; // outside our top 5 only when nearly tied with the fifth
                    maxErr = Math.Max(maxErr, Math.Abs(mine.Logprob - pair[1].GetDouble()));
                }
                compared = i + 1;
                if (result.TokenIds[i] != expected[i])
                {
                    double gap = refTop[0][1].GetDouble() - refTop[1][1].GetDouble();
                    Assert.True(gap < tolerance, $"'{prompt}' token {i}: got {result.TokenIds[i]}, llama.cpp {expected[i]} (its top two are {gap:g3} apart)");
                    output.WriteLine($"'{prompt}': diverges at token {i}, where llama.cpp's top two are {gap:g3} apart; compared up to there");
                    break;
                }
            }
            totalCompared += compared;
            output.WriteLine($"'{prompt}' ({promptIds.Length} tokens): {compared} tokens compared, max top-5 log-prob error {maxErr:g3}");
            Assert.True(maxErr < tolerance, $"'{prompt}': log-prob error {maxErr} over {tolerance}");
        }
        Assert.True(totalCompared >= minCompared, $"only {totalCompared} tokens compared: the reference is too nearly tied to test anything");
        return longest;
    }
}
