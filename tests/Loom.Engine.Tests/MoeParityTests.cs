using System.Text.Json;
using Loom.Models;
using Loom.Models.Quantize;
using Loom.Models.Synthetic;
using Xunit.Abstractions;

namespace Loom.Engine.Tests;

/// <summary>
/// Mixture-of-experts models from <c>loom create-model</c> (F32 and F16, seed 1) through the engine, against llama.cpp's
/// greedy tokens and top-5 log-probs on the same files, recorded in References/ (llama.cpp c392e50, CPU, 2 threads;
/// it has no qwen3moe, so that shape has no peer here). The files are written afresh: the writer is deterministic.
/// </summary>
public class MoeParityTests(ITestOutputHelper output)
{
    /// <summary>
    /// F32 files test the architecture with little rounding in the way; F16 ones round every activation to f16 as
    /// llama.cpp does. This machine's peer sums in other orders than Loom (AVX2, where Loom follows the AVX-512 build),
    /// and the f16 KV cache and f16 rounding turn those last-bit differences into log-prob noise, which the 8× logit
    /// spread of these files (<see cref="SyntheticModelSpec.OutputWeightScale"/>) magnifies. The dense <c>tiny-x8</c>
    /// (the tiny llama with the same spread) is the control: it shows that noise without any experts, and its
    /// tolerances are the MoE models' tolerances.
    /// <para>The deepseek2 files (multi-head latent attention): llama.cpp c392e50 decompresses the latent into per-head
    /// K and V and caches those, rounded to f16 by default, where Loom caches the latent itself (f16) and never rounds
    /// K or V. On these files llama.cpp's own f16 and f32 caches differ by up to 0.3 in a top-5 log-prob (1.8 where a
    /// router choice flips), so for the F32 files, whose point is little rounding, the reference ran with an F32 KV
    /// cache, and Loom is within 0.03 of it (the f16 latent's share; the tolerance leaves room for other
    /// instruction-set tiers). The F16 files round everything to f16 in both, and their references ran with
    /// llama.cpp's default f16 cache, as the other files' did.</para>
    /// </summary>
    public static TheoryData<string, LlamaFileType, double> Cases => new()
    {
        { "tiny-x8", LlamaFileType.F32, 4e-3 }, { "mixtral-tiny", LlamaFileType.F32, 4e-3 }, { "qwen2moe-tiny", LlamaFileType.F32, 4e-3 },
        { "olmoe-tiny", LlamaFileType.F32, 4e-3 },
        { "tiny-x8", LlamaFileType.F16, 6e-2 }, { "mixtral-tiny", LlamaFileType.F16, 6e-2 }, { "qwen2moe-tiny", LlamaFileType.F16, 6e-2 },
        { "olmoe-tiny", LlamaFileType.F16, 6e-2 },
        // Latent attention (see above): the F32 files' references were recorded with llama.cpp's F32 KV cache.
        { "deepseek2-tiny", LlamaFileType.F32, 4e-2 }, { "deepseek2-v3-tiny", LlamaFileType.F32, 4e-2 }, { "deepseek2-yarn-tiny", LlamaFileType.F32, 4e-2 },
        { "deepseek2-tiny", LlamaFileType.F16, 6e-2 }, { "deepseek2-v3-tiny", LlamaFileType.F16, 6e-2 },
    };

    internal static SyntheticModelSpec Spec(string name) => name switch
    {
        "mixtral-tiny" => SyntheticModelSpec.MixtralTiny,
        "qwen2moe-tiny" => SyntheticModelSpec.Qwen2MoeTiny,
        "qwen3moe-tiny" => SyntheticModelSpec.Qwen3MoeTiny,
        "olmoe-tiny" => SyntheticModelSpec.OlmoeTiny,
        "tiny-x8" => SyntheticModelSpec.Tiny with { Name = "tiny-x8", OutputWeightScale = 8 },
        "deepseek2-tiny" => SyntheticModelSpec.Deepseek2Tiny,
        // V2-Lite's YaRN (×40, log multiplier 0.0707, here from a 64-token training context): it changes every
        // position's angles and scales the scores by mscale², so a short run tests it.
        "deepseek2-yarn-tiny" => SyntheticModelSpec.Deepseek2Tiny with
        {
            Name = "deepseek2-yarn-tiny",
            Mla = SyntheticModelSpec.Deepseek2Tiny.Mla! with { YarnFactor = 40, YarnOrigContext = 64, YarnLogMultiplier = 0.0707f },
        },
        // DeepSeek-V3's routing on the same layout: sigmoid scores, the selection bias, renormalized and scaled weights.
        "deepseek2-v3-tiny" => SyntheticModelSpec.Deepseek2Tiny with
        {
            Name = "deepseek2-v3-tiny",
            Mla = SyntheticModelSpec.Deepseek2Tiny.Mla! with { GatingFunc = 2, ProbsBias = true, WeightsNorm = true, WeightsScale = 2.5f },
        },
        _ => throw new ArgumentException(name),
    };

    /// <summary>The file <c>loom create-model --shape NAME --type TYPE --seed 1</c> writes.</summary>
    internal static LoadedModel Load(string shape, LlamaFileType type) => ReferenceParity.LoadSynthetic(Spec(shape), type);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task EngineReproducesLlamaCpp(string shape, LlamaFileType type, double tolerance)
    {
        string file = $"{shape}.{type.ToString().ToLowerInvariant()}";
        using var model = Load(shape, type);
        await ReferenceParity.CheckAsync(model, file + ".json", tolerance, output, modelFile: file + ".gguf");
    }
}
