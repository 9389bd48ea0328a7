using System.Text;
using Loom.Models.Formats.Gguf;
using Loom.Models.Tokenizers;

namespace Loom.Models.Tests;

/// <summary>Inconsistent tokenizer metadata is refused with <see cref="ModelFormatException"/>, never an index error.</summary>
public sealed class TokenizerCorruptMetadataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("loom-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes a tensor-less GGUF v3 with the given metadata (string, uint, bool, string[], float[], int[]).</summary>
    private string Write(Dictionary<string, object> kv)
    {
        string path = Path.Combine(_dir, Guid.NewGuid() + ".gguf");
        using var w = new BinaryWriter(File.Create(path));
        void Str(string s) { var b = Encoding.UTF8.GetBytes(s); w.Write((ulong)b.Length); w.Write(b); }
        w.Write(GgufFile.Magic); w.Write(3u); w.Write(0UL); w.Write((ulong)kv.Count);
        foreach (var (key, value) in kv)
        {
            Str(key);
            switch (value)
            {
                case string s: w.Write((uint)GgufValueType.String); Str(s); break;
                case uint u: w.Write((uint)GgufValueType.UInt32); w.Write(u); break;
                case bool b: w.Write((uint)GgufValueType.Bool); w.Write((byte)(b ? 1 : 0)); break;
                case string[] a: w.Write((uint)GgufValueType.Array); w.Write((uint)GgufValueType.String); w.Write((ulong)a.Length); foreach (var s in a) Str(s); break;
                case float[] a: w.Write((uint)GgufValueType.Array); w.Write((uint)GgufValueType.Float32); w.Write((ulong)a.Length); foreach (var f in a) w.Write(f); break;
                case int[] a: w.Write((uint)GgufValueType.Array); w.Write((uint)GgufValueType.Int32); w.Write((ulong)a.Length); foreach (var i in a) w.Write(i); break;
                default: throw new ArgumentException(value.GetType().Name);
            }
        }
        return path;
    }

    private static readonly string[] Tokens = ["<unk>", "<s>", "</s>", "▁a", "a", "b", "▁"];

    private Dictionary<string, object> ValidSpm() => new()
    {
        ["tokenizer.ggml.model"] = "llama",
        ["tokenizer.ggml.tokens"] = Tokens,
        ["tokenizer.ggml.scores"] = new float[] { 0, 0, 0, -1, -2, -3, -4 },
        ["tokenizer.ggml.token_type"] = new[] { 2, 3, 3, 1, 1, 1, 1 },
    };

    private Dictionary<string, object> ValidBpe() => new()
    {
        ["tokenizer.ggml.model"] = "gpt2",
        ["tokenizer.ggml.pre"] = "gpt-2",
        ["tokenizer.ggml.tokens"] = new[] { "a", "b", "ab", "Ġ", "Ġab" },
        ["tokenizer.ggml.merges"] = new[] { "a b", "Ġ ab" },
    };

    private Tokenizer Open(Dictionary<string, object> kv)
    {
        using var f = GgufFile.Open(Write(kv));
        return Tokenizer.FromGguf(f);
    }

    [Fact]
    public void ValidMetadataLoads()
    {
        var spm = Open(ValidSpm());
        Assert.Equal([1, 3], spm.Encode("a"));
        var bpe = Open(ValidBpe());
        Assert.Equal([4], bpe.Encode(" ab", addSpecial: false));
        Assert.Equal(" ab", bpe.Decode([4]));
    }

    [Fact]
    public void MissingTokensArray()
    {
        var kv = ValidSpm(); kv.Remove("tokenizer.ggml.tokens");
        Assert.Throws<ModelFormatException>(() => Open(kv));
    }

    [Fact]
    public void ScoresLengthMismatch()
    {
        var kv = ValidSpm(); kv["tokenizer.ggml.scores"] = new float[] { 0, 0 };
        Assert.Throws<ModelFormatException>(() => Open(kv));
    }

    [Fact]
    public void TokenTypeLengthMismatch()
    {
        var kv = ValidSpm(); kv["tokenizer.ggml.token_type"] = new[] { 1 };
        Assert.Throws<ModelFormatException>(() => Open(kv));
    }

    [Fact]
    public void BadMerges()
    {
        var kv = ValidBpe(); kv["tokenizer.ggml.merges"] = new[] { "a b", "nospace" };
        Assert.Throws<ModelFormatException>(() => Open(kv));
        kv = ValidBpe(); kv.Remove("tokenizer.ggml.merges");
        Assert.Throws<ModelFormatException>(() => Open(kv));
    }

    [Fact]
    public void IdsOutOfRange()
    {
        var kv = ValidSpm(); kv["tokenizer.ggml.bos_token_id"] = 99u;
        Assert.Throws<ModelFormatException>(() => Open(kv));
        kv = ValidSpm(); kv["tokenizer.ggml.eos_token_id"] = 7u;
        Assert.Throws<ModelFormatException>(() => Open(kv));
        // The all-ones "none" value converters write is accepted.
        kv = ValidSpm(); kv["tokenizer.ggml.seperator_token_id"] = uint.MaxValue;
        Assert.Equal(-1, Open(kv).SeparatorId);
    }

    [Fact]
    public void UnknownModelOrPreTokenizer()
    {
        var kv = ValidSpm(); kv["tokenizer.ggml.model"] = "mystery";
        Assert.Throws<ModelFormatException>(() => Open(kv));
        kv = ValidBpe(); kv["tokenizer.ggml.pre"] = "mystery";
        Assert.Throws<ModelFormatException>(() => Open(kv));
    }

    [Fact]
    public void WrongArrayTypes()
    {
        var kv = ValidSpm(); kv["tokenizer.ggml.tokens"] = new[] { 1, 2, 3 };
        Assert.Throws<ModelFormatException>(() => Open(kv));
        kv = ValidSpm(); kv["tokenizer.ggml.scores"] = new[] { 1, 2, 3, 4, 5, 6, 7 };
        Assert.Throws<ModelFormatException>(() => Open(kv));
    }

    [Fact]
    public void TruncatedLlama2cFile()
    {
        string path = Path.Combine(_dir, "tok.bin");
        File.WriteAllBytes(path, [7, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, (byte)'a']);
        Assert.Throws<ModelFormatException>(() => Tokenizer.FromLlama2c(path, 3));
    }
}
