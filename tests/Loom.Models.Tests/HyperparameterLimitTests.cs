using System.Diagnostics;
using FsCheck;
using FsCheck.Fluent;
using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Formats.Gguf;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>
/// Hyperparameters are range-checked as stored and must agree with the tensors, so a lying header is refused with
/// one <see cref="ModelFormatException"/> naming the key (and the tensor), quickly and without allocating from it.
/// </summary>
public sealed class HyperparameterLimitTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _ok;

    public HyperparameterLimitTests()
    {
        _ok = _dir.File("ok.gguf");
        SyntheticModel.Write(_ok, SyntheticModelSpec.Tiny, GgmlType.F32);
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>Copies the tiny model, overriding metadata and dropping or reshaping tensors.</summary>
    private string Rewrite(IReadOnlyDictionary<string, object>? set = null, string? dropTensorsOf = null,
        (string Name, long[] Shape)? reshape = null)
    {
        string target = _dir.File($"bad-{Guid.NewGuid():N}.gguf");
        using var f = GgufFile.Open(_ok);
        var w = new GgufWriter();
        foreach (var (k, v) in f.Metadata) w.Add(k, set is not null && set.TryGetValue(k, out var nv) ? nv : v);
        foreach (var (k, v) in set ?? new Dictionary<string, object>())
            if (!f.Metadata.ContainsKey(k)) w.Add(k, v);
        foreach (var t in f.Tensors)
        {
            if (dropTensorsOf is not null && t.Name.StartsWith(dropTensorsOf, StringComparison.Ordinal)) continue;
            var bytes = f.GetTensor(t.Name).Bytes.ToArray();
            if (reshape is { } r && r.Name == t.Name)
            {
                long elements = r.Shape.Aggregate(1L, (a, b) => a * b);
                Array.Resize(ref bytes, checked((int)elements * 4));
                w.AddTensor(t.Name, t.Type, r.Shape, bytes);
            }
            else w.AddTensor(t.Name, t.Type, t.Shape, bytes);
        }
        w.Write(target);
        return target;
    }

    /// <summary>Loads <paramref name="path"/>, expecting the typed refusal within a second and a few MiB of allocation.</summary>
    private static ModelFormatException Refuse(string path)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path).Dispose());
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"refusal took {sw.Elapsed}");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 16 << 20, $"refusal allocated {allocated} bytes");
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Theory]
    [InlineData("llama.block_count", (uint)int.MaxValue)]
    [InlineData("llama.block_count", 1025u)]
    [InlineData("llama.context_length", 100_000_000u)]
    [InlineData("llama.context_length", (uint)int.MaxValue)]
    [InlineData("llama.embedding_length", (uint)int.MaxValue)]
    [InlineData("llama.feed_forward_length", 1u << 21)]
    [InlineData("llama.attention.head_count", 1u << 20)]
    [InlineData("llama.attention.head_count_kv", 0u)]
    [InlineData("llama.attention.key_length", 1u << 20)]
    [InlineData("llama.vocab_size", (1u << 24) + 1)]
    public void OutOfRangeHyperparameterIsRefusedNamingTheKey(string key, uint value)
    {
        var e = Refuse(Rewrite(new Dictionary<string, object> { [key] = value }));
        Assert.Contains($"'{key}' = {value} is out of range", e.Message);
    }

    [Theory]
    [InlineData(1UL << 32)]
    [InlineData((1UL << 32) + 512)] // would truncate to the real vocabulary of 512
    [InlineData(ulong.MaxValue)]
    public void SixtyFourBitVocabularyIsNeverTruncated(ulong value)
    {
        var e = Refuse(Rewrite(new Dictionary<string, object> { ["llama.vocab_size"] = value }));
        Assert.Contains("llama.vocab_size", e.Message);
    }

    [Fact]
    public void SixtyFourBitLayerCountIsNeverTruncated()
    {
        // 2^32 + 2 narrowed to int would be the real 2 layers.
        var e = Refuse(Rewrite(new Dictionary<string, object> { ["llama.block_count"] = (1L << 32) + 2 }));
        Assert.Contains("'llama.block_count' = 4294967298 is out of range (1..1024)", e.Message);
    }

    [Fact]
    public void BlockCountAboveTheTensorBlocksIsRefused()
    {
        var e = Refuse(Rewrite(new Dictionary<string, object> { ["llama.block_count"] = 3u }));
        Assert.Contains("'llama.block_count' = 3", e.Message);
        Assert.Contains("'blk.2.*'", e.Message);
    }

    [Fact]
    public void BlockCountBelowTheTensorBlocksIsRefused()
    {
        var e = Refuse(Rewrite(new Dictionary<string, object> { ["llama.block_count"] = 1u }));
        Assert.Contains("llama.block_count", e.Message);
        Assert.Contains("tensor 'blk.1.", e.Message);
    }

    [Fact]
    public void MissingBlockIsRefused()
    {
        var e = Refuse(Rewrite(dropTensorsOf: "blk.0."));
        Assert.Contains("'llama.block_count' = 2, but the file has tensors for 1 blocks (none named 'blk.0.*')", e.Message);
    }

    [Fact]
    public void VocabularyLargerThanTheEmbeddingIsRefused()
    {
        var e = Refuse(Rewrite(new Dictionary<string, object> { ["llama.vocab_size"] = 1u << 20 }));
        Assert.Contains("tensor 'token_embd.weight' has shape [64, 512]", e.Message);
        Assert.Contains("llama.embedding_length", e.Message);
    }

    [Fact]
    public void EmbeddingLengthThatDisagreesWithTheEmbeddingTensorIsRefused()
    {
        // 128 / 4 heads keeps the head dim even, so only the tensor check can catch it.
        var e = Refuse(Rewrite(new Dictionary<string, object> { ["llama.embedding_length"] = 128u, ["llama.attention.key_length"] = 16u }));
        Assert.Contains("tensor 'token_embd.weight'", e.Message);
        Assert.Contains("'llama.embedding_length' = 128", e.Message);
    }

    [Fact]
    public void HeadCountThatDisagreesWithAttnQIsRefused()
    {
        var e = Refuse(Rewrite(new Dictionary<string, object> { ["llama.attention.head_count"] = 8u, ["llama.attention.head_count_kv"] = 2u, ["llama.attention.key_length"] = 16u }));
        Assert.Contains("tensor 'blk.0.attn_q.weight'", e.Message);
        Assert.Contains("'llama.attention.head_count' = 8", e.Message);
    }

    [Fact]
    public void KvHeadCountThatDisagreesWithAttnKIsRefused()
    {
        var e = Refuse(Rewrite(new Dictionary<string, object> { ["llama.attention.head_count_kv"] = 4u }));
        Assert.Contains("tensor 'blk.0.attn_k.weight'", e.Message);
        Assert.Contains("'llama.attention.head_count_kv' = 4", e.Message);
    }

    [Fact]
    public void FeedForwardLengthThatDisagreesWithFfnUpIsRefused()
    {
        var e = Refuse(Rewrite(new Dictionary<string, object> { ["llama.feed_forward_length"] = 256u }));
        Assert.Contains("tensor 'blk.0.ffn_up.weight'", e.Message);
        Assert.Contains("'llama.feed_forward_length' = 256", e.Message);
    }

    [Fact]
    public void ReshapedTensorIsRefusedNamingIt()
    {
        var e = Refuse(Rewrite(reshape: ("blk.1.ffn_down.weight", [64, 128])));
        Assert.Contains("blk.1.ffn_down.weight", e.Message);
    }

    [Fact]
    public void LargestAllowedContextStillLoads()
    {
        using var m = ModelLoader.Load(Rewrite(new Dictionary<string, object> { ["llama.context_length"] = (uint)ModelLimits.MaxContext }));
        Assert.Equal(ModelLimits.MaxContext, m.Config.ContextLength);
    }

    private static readonly string[] Keys =
    [
        "llama.block_count", "llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
        "llama.attention.head_count", "llama.attention.head_count_kv", "llama.attention.key_length",
        "llama.attention.value_length", "llama.rope.dimension_count", "llama.vocab_size",
    ];

    private static readonly long[] Values =
    [
        -1, 0, 1, 2, 3, 7, 16, 63, 64, 65, 128, 511, 512, 513, 1024, 1025, 1 << 20, (1 << 20) + 1, 1 << 24, (1 << 24) + 1,
        int.MaxValue, 1L << 31, uint.MaxValue, 1L << 32, (1L << 32) + 2, (1L << 32) + 512, long.MaxValue, long.MinValue,
    ];

    /// <summary>Each integer type the GGUF format has, when it can hold the value.</summary>
    private static object? AsType(long v, int type) => type switch
    {
        0 => v is >= byte.MinValue and <= byte.MaxValue ? (byte)v : null,
        1 => v is >= short.MinValue and <= short.MaxValue ? (short)v : null,
        2 => v is >= uint.MinValue and <= uint.MaxValue ? (uint)v : null,
        3 => v is >= int.MinValue and <= int.MaxValue ? (int)v : null,
        4 => v >= 0 ? (ulong)v : unchecked((ulong)v), // negative values reinterpret as huge unsigned ones
        _ => v,
    };

    /// <summary>
    /// Any one hyperparameter set to any value of any integer type either loads (and then the model agrees with its
    /// tensors) or is refused with the typed error, within a second.
    /// </summary>
    [Fact]
    public void AnyHyperparameterValueLoadsOrIsRefused()
    {
        var gen = from key in Gen.Elements(Keys)
                  from value in Gen.Elements(Values)
                  from type in Gen.Choose(0, 5)
                  select (key, value, type);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(60), Prop.ForAll(Arb.From(gen), c =>
        {
            if (AsType(c.value, c.type) is not { } v) return;
            string path = Rewrite(new Dictionary<string, object> { [c.key] = v });
            var sw = Stopwatch.StartNew();
            try
            {
                using var m = ModelLoader.Load(path);
                Assert.Equal(64, m.Config.Dim);
                Assert.Equal(512, m.Config.VocabSize);
                Assert.Equal(2, m.Config.NumLayers);
            }
            catch (ModelFormatException) { }
            finally { File.Delete(path); }
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"{c}: took {sw.Elapsed}");
        }));
    }
}
