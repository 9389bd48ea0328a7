using Loom.Engine.Bench;
using Loom.Models.Quantize;

namespace Loom.Engine.Tests;

public class MoeBenchTests
{
    /// <summary>A generated token reads the routed experts' share of each expert tensor, so bench's GB/s uses active bytes.</summary>
    [Fact]
    public void WeightBytesPerTokenCountsOnlyTheRoutedExperts()
    {
        using var model = MoeParityTests.Load("olmoe-tiny", LlamaFileType.F32);
        var c = model.Config;
        var w = model.Transformer.Weights;
        long experts = w.Layers.Sum(l => l.Moe!.GateExps.ByteSize + l.Moe.UpExps.ByteSize + l.Moe.DownExps.ByteSize);
        long rest = w.All().Sum(t => t.ByteSize) - experts - w.TokenEmbedding.ByteSize + w.TokenEmbedding.RowBytes;
        Assert.Equal(rest + experts / c.ExpertCount * c.ExpertUsedCount, new BenchRunner(model.Transformer).WeightBytesPerToken);
    }
}
