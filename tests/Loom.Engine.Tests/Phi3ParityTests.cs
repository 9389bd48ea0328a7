using Loom.Models;
using Loom.Models.Quantize;
using Loom.Models.Synthetic;
using Xunit.Abstractions;

namespace Loom.Engine.Tests;

/// <summary>
/// <c>loom create-model --shape phi3-tiny</c> (F32 and F16, seed 1) through the engine against llama.cpp c392e50 on the
/// same files (References/phi3-tiny*.json, recorded with ref.cpp at n_ctx 256 and 128). The file's LongRoPE has an
/// original context of 128: llama.cpp takes the long factors at n_ctx 256 and the short ones at 128, and Loom must
/// choose the same by its context (the model's 256, or 128 through <see cref="ModelLoadOptions.ContextLength"/>). The
/// tolerances are the MoE parity tests' (same 8× logit spread, same peer).
/// </summary>
public class Phi3ParityTests(ITestOutputHelper output)
{
    public static TheoryData<string, LlamaFileType, int, double> Cases => new()
    {
        { "phi3-tiny", LlamaFileType.F32, 256, 4e-3 }, { "phi3-tiny", LlamaFileType.F32, 128, 4e-3 },
        { "phi3-tiny", LlamaFileType.F16, 256, 6e-2 }, { "phi3-tiny", LlamaFileType.F16, 128, 6e-2 },
        { "phi3-tiny-hd24", LlamaFileType.F32, 256, 4e-3 }, { "phi3-tiny-hd24", LlamaFileType.F16, 256, 6e-2 },
        { "phi3-tiny-w16", LlamaFileType.F32, 256, 4e-3 }, { "phi3-tiny-w16", LlamaFileType.F16, 256, 6e-2 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task EngineReproducesLlamaCpp(string shape, LlamaFileType type, int context, double tolerance)
    {
        string file = $"{shape}.{type.ToString().ToLowerInvariant()}";
        using var model = Load(shape switch { "phi3-tiny" => SyntheticModelSpec.Phi3Tiny, "phi3-tiny-w16" => Window16, _ => Hd24 }, type, context);
        Assert.Equal(context, model.Config.ContextLength);
        var factors = model.Config.ActiveRopeFactors!;
        Assert.Same(context > 128 ? model.Config.LongRope!.Long : model.Config.LongRope!.Short, factors);
        await ReferenceParity.CheckAsync(model, $"{file}.ctx{context}.json", tolerance, output, modelFile: $"{file}.gguf");
    }

    /// <summary>
    /// phi3-tiny with head dim 24: 1/√24 is not a power of two, so scaling Q before it is rounded to f16 (as build_phi3
    /// does) and scaling the scores after (as other architectures do) give different numbers.
    /// </summary>
    internal static SyntheticModelSpec Hd24 => SyntheticModelSpec.Phi3Tiny with { Name = "phi3-tiny-hd24", Dim = 96 };

    /// <summary>
    /// phi3-tiny with a 16-position window on every layer: three of the four prompts (18, 32 and 58 tokens) and every
    /// continuation run past it, so llama.cpp's masking (keys with pos - key_pos ≥ 16) has to be matched.
    /// </summary>
    internal static SyntheticModelSpec Window16 => SyntheticModelSpec.Phi3Tiny with { Name = "phi3-tiny-w16", SlidingWindow = 16 };

    /// <summary>The file <c>loom create-model --shape phi3-tiny --type TYPE --seed 1</c> writes, served with <paramref name="context"/>.</summary>
    internal static LoadedModel Load(SyntheticModelSpec spec, LlamaFileType type, int context) =>
        ReferenceParity.LoadSynthetic(spec, type, new ModelLoadOptions { ContextLength = context });
}
