namespace Loom.Engine;

/// <summary>
/// Blocks of the KV pools (<see cref="ModelRunner.PoolSizes"/>): the full-attention layers' (which also sizes a draft
/// model's cache), and the sliding-window layers' own (0: they share the full pool and keep every position).
/// </summary>
public readonly record struct KvPoolSizes(int Full, int Sliding);
