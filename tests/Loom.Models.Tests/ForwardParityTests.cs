using System.Text.Json;
using Loom.Models.Architectures;
using Loom.Models.Formats.Gguf;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Models.Tests;

/// <summary>The forward pass alone against llama.cpp's greedy tokens and top-5 log-probabilities (prompt ids taken from the reference).</summary>
public class ForwardParityTests(ITestOutputHelper output)
{
    [SharedTheory]
    [InlineData("stories260K.json", 2e-3)]
    [InlineData("TinyStories-656K.f16.json", 2e-3)]
    [InlineData("llama-2-tiny-random.json", 2e-3)]
    [InlineData("tinystories-656k-q8_0.json", 2e-2)]
    public void GreedyMatchesReference(string referenceFile, double tolerance)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedData.Path("reference/" + referenceFile)));
        string modelPath = SharedData.Path("models/" + doc.RootElement.GetProperty("model").GetString());
        var (config, weights) = GgufModelLoader.Load(GgufFile.Open(modelPath));
        using var model = new Transformer(config, weights);
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var prompt = c.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var expected = c.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var top5 = c.GetProperty("top5_logprobs").EnumerateArray().ToArray();
            using var cache = new KvCache(config.NumLayers, model.KvDim, 64, 16);
            int[] table = Enumerable.Range(0, 64).ToArray();
            var batch = new ForwardBatch();
            var logits = new float[config.VocabSize];
            batch.Add(prompt, 0, table);
            int pos = prompt.Length;
            double maxErr = 0;
            for (int i = 0; i < expected.Length; i++)
            {
                model.Forward(batch, cache, logits);
                double lse = Core.Kernels.Softmax.LogSumExp(logits);
                var refTop = top5[i].GetProperty("top").EnumerateArray().ToArray();
                if (refTop[0][1].ValueKind == JsonValueKind.Null)
                {
                    // llama.cpp's own logits were not numbers here (every log-probability null); nothing to compare.
                    output.WriteLine($"'{c.GetProperty("prompt").GetString()}': reference has no log-probabilities from token {i}; compared up to there");
                    break;
                }
                double gap = refTop[1][1].ValueKind == JsonValueKind.Null ? double.PositiveInfinity : refTop[0][1].GetDouble() - refTop[1][1].GetDouble();
                int argmax = Array.IndexOf(logits, logits.Max());
                foreach (var pair in refTop)
                {
                    if (pair[1].ValueKind == JsonValueKind.Null) continue;
                    double err = Math.Abs(logits[pair[0].GetInt32()] - lse - pair[1].GetDouble());
                    maxErr = Math.Max(maxErr, err);
                }
                if (argmax != expected[i])
                {
                    Assert.True(gap < 2 * tolerance, $"'{c.GetProperty("prompt").GetString()}' token {i}: got {argmax}, expected {expected[i]} (reference gap {gap})");
                    output.WriteLine($"'{c.GetProperty("prompt").GetString()}': stops comparing at token {i}, where the reference's top two are {gap:g3} apart");
                    break;
                }
                batch.Clear();
                batch.Add([argmax], pos++, table);
            }
            output.WriteLine($"'{c.GetProperty("prompt").GetString()}': max top-5 logprob error {maxErr:g3}");
            Assert.True(maxErr < tolerance, $"logprob error {maxErr}");
        }
    }
}
