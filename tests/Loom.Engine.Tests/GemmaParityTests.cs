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
    internal static LoadedModel Load(string shape, LlamaFileType type) => ReferenceParity.LoadSynthetic(Spec(shape), type);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task EngineReproducesLlamaCpp(string shape, LlamaFileType type, double tolerance)
    {
        string file = $"{shape}.{type.ToString().ToLowerInvariant()}";
        using var model = Load(shape, type);
        Assert.Equal(16, model.Config.SlidingWindow);
        int longest = await ReferenceParity.CheckAsync(model, file + ".json", tolerance, output, minCompared: 64, modelFile: file + ".gguf");
        Assert.True(longest > model.Config.SlidingWindow, "no prompt is longer than the window");
    }
}
