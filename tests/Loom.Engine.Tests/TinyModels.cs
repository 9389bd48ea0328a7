using Loom.Core.Tensors;
using Loom.Engine.Sampling;
using Loom.Models;
using Loom.Models.Architectures;
using Loom.Models.Synthetic;

namespace Loom.Engine.Tests;

/// <summary>Random-weight tiny models written once per test run, and helpers to run prompts through engines.</summary>
internal static class TinyModels
{
    private static readonly Lazy<string> F16Path = new(() => Write(GgmlType.F16, seed: 11));
    private static readonly Lazy<string> OtherPath = new(() => Write(GgmlType.F16, seed: 12));

    /// <summary>Loads the tiny F16 llama (dim 64, 2 layers, GQA 4/2, vocab 512, context 256).</summary>
    public static LoadedModel Load() => ModelLoader.Load(F16Path.Value);

    /// <summary>Another model of the same shape and vocabulary, other random weights (a draft model that guesses badly).</summary>
    public static LoadedModel LoadOther() => ModelLoader.Load(OtherPath.Value);

    private static string Write(GgmlType type, int seed)
    {
        var dir = Directory.CreateTempSubdirectory("loom-engine-test-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } };
        var path = Path.Combine(dir, $"tiny-{type}.gguf");
        SyntheticModel.Write(path, SyntheticModelSpec.Tiny, type, seed);
        return path;
    }

    /// <summary>Random ordinary tokens (never the control ids 0..2, so EOS never appears in a prompt).</summary>
    public static int[] RandomTokens(Random rng, int length, int vocab)
    {
        var t = new int[length];
        for (int i = 0; i < length; i++) t[i] = rng.Next(3, vocab);
        return t;
    }

    /// <summary>Greedy continuation that ignores EOS, so every run produces exactly <paramref name="maxTokens"/> tokens.</summary>
    public static SamplingParams Greedy(int maxTokens) => SamplingParams.Greedy(maxTokens) with { IgnoreEos = true };

    /// <summary>Runs one request by itself in a fresh engine with plenty of KV cache and no prefix cache.</summary>
    public static GenerationResult RunAlone(LoadedModel model, int[] prompt, SamplingParams p, EngineOptions? options = null)
    {
        using var engine = new LlmEngine(model, (options ?? new EngineOptions()) with { KvCacheBytes = 64 << 20, MaxKvTokens = 4096, PrefixCaching = false });
        return engine.Generate([prompt], p)[0];
    }
}
