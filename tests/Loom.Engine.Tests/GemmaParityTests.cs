using System.Text.Json;
using Loom.Engine.Sampling;
using Loom.Models;
using Loom.Models.Quantize;
using Loom.Models.Synthetic;
using Xunit.Abstractions;

namespace Loom.Engine.Tests;

/// <summary>
/// Gemma 2 from <c>loom create-model --shape gemma2-tiny</c> (F32 and F16, seed 1) through the engine, against
/// llama.cpp's greedy tokens and top-5 log-probs on the same files, recorded in References/ (llama.cpp c392e50, CPU,
/// 2 threads, as <see cref="MoeParityTests"/>). Its window is 16 positions, and every case runs past it: the shortest
/// prompt is 5 tokens and 32 more are generated, the longest prompt alone is 60 tokens. llama.cpp c392e50 has no
/// gemma3, so Gemma 3 has no peer here (its tests hold its fast paths to one another).
/// </summary>
public class GemmaParityTests(ITestOutputHelper output)
{
    /// <summary>The MoE parity tolerances (the same noise of this machine's peer summing in other orders).</summary>
    public static TheoryData<string, LlamaFileType, double> Cases => new()
    {
        { "gemma2-tiny", LlamaFileType.F32, 4e-3 }, { "gemma2-tiny", LlamaFileType.F16, 6e-2 },
    };

    internal static SyntheticModelSpec Spec(string name) => name switch
    {
        "gemma2-tiny" => SyntheticModelSpec.Gemma2Tiny,
        "gemma3-tiny" => SyntheticModelSpec.Gemma3Tiny,
        _ => throw new ArgumentException(name),
    };

    /// <summary>The file <c>loom create-model --shape NAME --type TYPE --seed 1</c> writes.</summary>
    internal static LoadedModel Load(string shape, LlamaFileType type)
    {
        var dir = Directory.CreateTempSubdirectory("loom-gemma-test-").FullName;
        try
        {
            string path = Path.Combine(dir, shape + ".gguf");
            SyntheticModel.Write(path, Spec(shape), type, seed: 1);
            return ModelLoader.Load(path);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task EngineReproducesLlamaCpp(string shape, LlamaFileType type, double tolerance)
    {
        string file = $"{shape}.{type.ToString().ToLowerInvariant()}";
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "References", file + ".json")));
        Assert.Equal(file + ".gguf", doc.RootElement.GetProperty("model").GetString());
        using var model = Load(shape, type);
        Assert.Equal(16, model.Config.SlidingWindow);
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
        Assert.True(longest > model.Config.SlidingWindow, "no prompt is longer than the window");
        Assert.True(totalCompared >= 64, $"only {totalCompared} tokens compared: the reference is too nearly tied to test anything");
    }
}
