using Loom.Models.Formats.Gguf;
using Loom.Tests;

namespace Loom.Models.Tests;

public class GgufSmokeTests
{
    [SharedFact]
    public void OpensSharedModel()
    {
        using var f = GgufFile.Open(SharedData.Path("models/stories260K/stories260K.gguf"));
        Assert.Equal("llama", f.GetString("general.architecture"));
        Assert.Equal(48, f.Tensors.Count);
    }
}
