using Loom.Models.Formats.Gguf;
using Loom.Tests;

namespace Loom.Models.Tests;

public class GgufSmokeTests
{
    [Fact]
    public void OpensShippedModel()
    {
        using var f = GgufFile.Open(RepoModels.Stories260K);
        Assert.Equal("llama", f.GetString("general.architecture"));
        Assert.Equal(48, f.Tensors.Count);
    }
}
