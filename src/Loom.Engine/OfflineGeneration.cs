using Loom.Engine.Sampling;

namespace Loom.Engine;

/// <summary>Offline batch generation through the engine's one step loop: prompts in, finished results out, in order.</summary>
public static class OfflineGeneration
{
    /// <summary>Runs prompts to completion: on the calling thread, or by waiting for the background loop once started.</summary>
    public static async Task<IReadOnlyList<GenerationResult>> GenerateAsync(this LlmEngine engine, IReadOnlyList<int[]> prompts, SamplingParams p, CancellationToken ct = default)
    {
        var requests = prompts.Select(prompt => engine.AddRequest(prompt, p)).ToArray();
        if (!engine.IsLooping)
        {
            while (requests.Any(r => !r.IsFinished)) { ct.ThrowIfCancellationRequested(); engine.Step(); }
        }
        var results = new GenerationResult[requests.Length];
        for (int i = 0; i < requests.Length; i++) results[i] = await GenerationResult.CollectAsync(requests[i], ct);
        return results;
    }

    /// <summary>Runs prompts to completion and returns their results in order.</summary>
    public static IReadOnlyList<GenerationResult> Generate(this LlmEngine engine, IReadOnlyList<int[]> prompts, SamplingParams p, CancellationToken ct = default) =>
        engine.GenerateAsync(prompts, p, ct).GetAwaiter().GetResult();

    /// <summary>Tokenizes each prompt (adding BOS as the model wants) and runs them to completion.</summary>
    public static IReadOnlyList<GenerationResult> Generate(this LlmEngine engine, IReadOnlyList<string> prompts, SamplingParams p, CancellationToken ct = default) =>
        engine.Generate(prompts.Select(t => engine.Model.Tokenizer.Encode(t, addSpecial: true, parseSpecial: true)).ToArray(), p, ct);
}
