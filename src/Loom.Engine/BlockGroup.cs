namespace Loom.Engine;

/// <summary>
/// One KV cache group as the block manager sees it: a pool of <paramref name="Blocks"/> blocks and its layers'
/// attention window (0: full attention, every position stays; else the blocks wholly older than the window of a
/// sequence's newest computed position are released to the pool).
/// </summary>
public readonly record struct BlockGroup(int Blocks, int Window);
