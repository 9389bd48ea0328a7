namespace Loom.Engine.Bench;

/// <summary>What <see cref="BenchRunner"/> measures, as llama-bench's options name it.</summary>
public sealed record BenchOptions
{
    /// <summary>Prompt tokens of the prompt-processing test (one prefill); 0 skips it.</summary>
    public int PromptTokens { get; init; } = 512;
    /// <summary>Tokens of the text-generation test (one decode step each); 0 skips it.</summary>
    public int GenTokens { get; init; } = 128;
    /// <summary>Thread counts, each measured in turn.</summary>
    public IReadOnlyList<int> Threads { get; init; } = [Environment.ProcessorCount];
    /// <summary>Timed repetitions of each test, after one untimed warm-up.</summary>
    public int Repetitions { get; init; } = 5;
    /// <summary>Seed of the random token ids.</summary>
    public int Seed { get; init; } = 1234;
    /// <summary>Size of the bandwidth probe's buffer; 0 skips the probe.</summary>
    public long ProbeBytes { get; init; } = 1L << 30;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad value.</summary>
    public void Validate(int contextLength)
    {
        if (PromptTokens < 0 || GenTokens < 0) throw new ArgumentException("token counts must not be negative");
        if (PromptTokens == 0 && GenTokens == 0) throw new ArgumentException("nothing to measure: both -p and -n are 0");
        if (PromptTokens > contextLength || GenTokens > contextLength)
            throw new ArgumentException($"-p {PromptTokens} / -n {GenTokens} exceed the model's context of {contextLength} tokens");
        if (Threads.Count == 0 || Threads.Any(t => t < 1)) throw new ArgumentException("thread counts must be positive");
        if (Repetitions < 1) throw new ArgumentException("repetitions must be at least 1");
        if (ProbeBytes < 0) throw new ArgumentException("probe size must not be negative");
    }
}
