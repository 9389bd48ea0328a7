using Loom.Core.Tensors;
using Loom.Models.Quantize;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>The long operations report progress through the caller's callback: never backwards, ending at the total.</summary>
public class ProgressTests
{
    private static void AssertMonotoneToTheEnd(List<WorkProgress> reports, string unit)
    {
        Assert.NotEmpty(reports);
        long total = reports[0].Total;
        Assert.True(total > 0);
        for (int i = 0; i < reports.Count; i++)
        {
            Assert.Equal(unit, reports[i].Unit);
            Assert.Equal(total, reports[i].Total);
            Assert.InRange(reports[i].Done, i == 0 ? 0 : reports[i - 1].Done, total);
        }
        Assert.Equal(total, reports[^1].Done);
        Assert.Equal(1.0, reports[^1].Fraction);
    }

    [Fact]
    public void CreatingAModelReportsTheBytesWritten()
    {
        using var dir = new TempDir();
        var reports = new List<WorkProgress>();
        SyntheticModel.Write(dir.File("m.gguf"), SyntheticModelSpec.Tiny, LlamaFileType.Q4_0, progress: new InlineProgress<WorkProgress>(reports.Add));
        AssertMonotoneToTheEnd(reports, WorkProgress.Bytes);
        using var f = Formats.Gguf.GgufFile.Open(dir.File("m.gguf"));
        Assert.Equal(f.Tensors.Sum(t => t.ByteSize), reports[^1].Total);
        Assert.True(reports.Count >= f.Tensors.Count);
    }

    [Fact]
    public void QuantizingReportsTheInputBytesConverted()
    {
        using var dir = new TempDir();
        SyntheticModel.Write(dir.File("f32.gguf"), SyntheticModelSpec.Tiny, GgmlType.F32);
        var reports = new List<WorkProgress>();
        ModelQuantizer.Quantize(dir.File("f32.gguf"), dir.File("q8.gguf"), new ModelQuantizeOptions { FileType = LlamaFileType.Q8_0, Threads = 1 },
            new InlineProgress<WorkProgress>(reports.Add));
        AssertMonotoneToTheEnd(reports, WorkProgress.Bytes);
        using (var f = Formats.Gguf.GgufFile.Open(dir.File("f32.gguf"))) Assert.Equal(f.Tensors.Sum(t => t.ByteSize), reports[^1].Total);
        Assert.Contains(reports, r => r.Item is { } item && item.Contains("blk.0.attn_q.weight -> Q8_0", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LoadingReportsTheWeightsPreparedAndPagedIn(bool prefetch)
    {
        using var dir = new TempDir();
        SyntheticModel.Write(dir.File("m.gguf"), SyntheticModelSpec.Tiny, LlamaFileType.Q4_0);
        var reports = new List<WorkProgress>();
        using var model = ModelLoader.Load(dir.File("m.gguf"), new ModelLoadOptions { Prefetch = prefetch, Progress = new InlineProgress<WorkProgress>(reports.Add) });
        AssertMonotoneToTheEnd(reports, WorkProgress.Bytes);
        // The total is the weights' size whether or not they are paged in as well; paging in takes its own half.
        Assert.Equal(model.Transformer.Weights.All().Sum(t => t.ByteSize), reports[^1].Total);
        int tensors = model.Transformer.Weights.All().Count();
        Assert.Equal(prefetch ? 2 * tensors : tensors, reports.Count);
        if (prefetch) Assert.Equal(reports[^1].Total / 2, reports[tensors - 1].Done);
    }
}
