using System.Diagnostics;
using System.Text;
using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Formats.SafeTensors;
using Loom.Tests;
using Xunit.Abstractions;
using Loom.Models.Synthetic;

namespace Loom.Models.Tests;

/// <summary>
/// Time-boxed mutation campaigns over whole models rather than bare containers: GGUF models through the full loader
/// (config, tensor agreement, tokenizer, transformer), safetensors headers, and Hugging Face config.json plus
/// safetensors through the HF loader. Every mutant loads or is refused with <see cref="ModelFormatException"/>;
/// any other exception fails with the mutation that caused it. The GGUF container parser has its own campaign in
/// <see cref="GgufFuzzTests"/>, whose mutator this reuses.
/// </summary>
public class HeaderFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] ExtremeNumbers =
    [
        "0", "-1", "1", "2", "7", "1025", "65536", "2147483647", "2147483648", "4294967295", "4294967296", "4294967808",
        "9223372036854775807", "9223372036854775808", "18446744073709551615", "1e309", "-1e309", "0.5", "1e-400", "-0",
    ];

    private static readonly string[] Strings = ["F32", "F16", "BF16", "F64", "I64", "U8", "", "\\u0000", "LlamaForCausalLM", "silu", "gelu", "llama3", "linear"];

    private sealed record Campaign(int Executed, int Loaded, int Refused);

    /// <summary>Runs <paramref name="step"/> until the time box or the iteration cap; counts loads and refusals.</summary>
    private Campaign Run(string name, TimeSpan box, int cap, Func<Random, int, (Action Load, string What)> step)
    {
        var rng = new Random(FuzzBudget.Seed);
        var sw = Stopwatch.StartNew();
        int executed = 0, loaded = 0, refused = 0;
        while (executed < cap && sw.Elapsed < box)
        {
            var (load, what) = step(rng, executed);
            try { load(); loaded++; }
            catch (ModelFormatException) { refused++; }
            catch (Exception e) { Assert.Fail($"{name} mutant {executed} ({what}): {e.GetType().Name}: {e.Message}\n{e.StackTrace}"); }
            executed++;
        }
        output.WriteLine($"{name}: {executed} mutants in {sw.Elapsed.TotalSeconds:F1}s, {loaded} loaded, {refused} refused");
        return new Campaign(executed, loaded, refused);
    }

    [Fact]
    public void MutatedGgufModelsLoadOrAreRefused()
    {
        using var dir = new TempDir(inMemory: true);
        var seeds = new List<byte[]>();
        foreach (var (spec, type) in new[]
        {
            (SyntheticModelSpec.Tiny, GgmlType.F32),
            (SyntheticModelSpec.Tiny with { Architecture = "qwen2" }, GgmlType.Q8_0),
            (SyntheticModelSpec.Tiny with { Architecture = "qwen3", NumKvHeads = 1 }, GgmlType.F16),
        })
        {
            SyntheticModel.Write(dir.File("seed.gguf"), spec, type);
            seeds.Add(File.ReadAllBytes(dir.File("seed.gguf")));
        }
        seeds.Add(File.ReadAllBytes(RepoModels.Stories260K));
        var layouts = seeds.Select(GgufLayout.Parse).ToArray();
        var buffer = new byte[seeds.Max(s => s.Length)];
        string path = dir.File("mutant.gguf");

        var c = Run("gguf model", FuzzBudget.Box(7), FuzzBudget.Cap(20_000), (rng, _) =>
        {
            int which = rng.Next(seeds.Count);
            seeds[which].CopyTo(buffer, 0);
            var (length, what) = GgufFuzzTests.Mutate(buffer.AsSpan(0, seeds[which].Length), layouts[which], rng);
            using (var fs = new FileStream(path, FileMode.Create, FileAccess.Write)) fs.Write(buffer, 0, length);
            return (() => ModelLoader.Load(path).Dispose(), $"seed {which}: {what}");
        });
        Assert.True(c.Refused > c.Executed / 10 && c.Loaded > 0, $"{c}: the campaign must reach both outcomes");
    }

    [Fact]
    public void MutatedSafeTensorsHeadersOpenOrAreRefused()
    {
        using var dir = new TempDir(inMemory: true);
        var seed = SafeTensorsTestWriter.Build(
        [
            StTensor.F32("a.weight", [3, 4], Enumerable.Range(0, 12).Select(i => (float)i).ToArray()),
            new StTensor("b.bias", "F16", [4], new byte[8]),
            new StTensor("c.scale", "BF16", [2, 1, 2], new byte[8]),
        ], new Dictionary<string, string> { ["format"] = "pt" });
        string path = dir.File("mutant.safetensors");

        var c = Run("safetensors", FuzzBudget.Box(4), FuzzBudget.Cap(30_000), (rng, _) =>
        {
            var (bytes, what) = MutateSafeTensors(seed, rng);
            File.WriteAllBytes(path, bytes);
            return (() => Exercise(path), what);
        });
        Assert.True(c.Refused > c.Executed / 10 && c.Loaded > 0, $"{c}: the campaign must reach both outcomes");
    }

    [Fact]
    public void MutatedHuggingFaceModelsLoadOrAreRefused()
    {
        using var dir = new TempDir(inMemory: true);
        var model = HfModelTestFiles.Llama();
        model.Write(dir.Path);
        MutateHuggingFaceDirectory(dir, "hf model", FuzzBudget.Box(4), FuzzBudget.Cap(20_000));
    }

    /// <summary>
    /// The architectures whose loading transforms tensors (stacked experts and F32 routers, Gemma's norms + 1, Phi-3's
    /// row views, DeepSeek's latent attention): mutated configs and weights of each load or are refused.
    /// </summary>
    [Theory]
    [InlineData("qwen2moe-tiny")]
    [InlineData("gemma3-tiny")]
    [InlineData("phi3-tiny")]
    [InlineData("deepseek2-tiny")]
    public void MutatedHuggingFaceArchitecturesLoadOrAreRefused(string shape)
    {
        using var dir = new TempDir(inMemory: true);
        var spec = HfArchitectureTests.Spec(shape) with { VocabSize = SyntheticModelSpec.MinVocabSize, NumLayers = 2 };
        string gguf = dir.File("m.gguf");
        Synthetic.SyntheticModel.Write(gguf, spec, Loom.Core.Tensors.GgmlType.BF16);
        HfCheckpointFromGguf.Write(gguf, spec, dir.Path);
        MutateHuggingFaceDirectory(dir, "hf " + shape, FuzzBudget.Box(2), FuzzBudget.Cap(5_000));
    }

    /// <summary>
    /// A campaign over the HF directory in <paramref name="dir"/>: every other mutant edits config.json, the rest the
    /// safetensors file; each loads or is refused, and both outcomes must be reached.
    /// </summary>
    private void MutateHuggingFaceDirectory(TempDir dir, string name, TimeSpan box, int cap)
    {
        byte[] config = File.ReadAllBytes(dir.File("config.json")), weights = File.ReadAllBytes(dir.File("model.safetensors"));
        var c = Run(name, box, cap, (rng, i) =>
        {
            string what;
            if (i % 2 == 0)
            {
                File.WriteAllBytes(dir.File("model.safetensors"), weights);
                var (json, w) = MutateJson(Encoding.UTF8.GetString(config), rng);
                File.WriteAllText(dir.File("config.json"), json);
                what = "config.json: " + w;
            }
            else
            {
                File.WriteAllBytes(dir.File("config.json"), config);
                var (bytes, w) = MutateSafeTensors(weights, rng);
                File.WriteAllBytes(dir.File("model.safetensors"), bytes);
                what = "model.safetensors: " + w;
            }
            return (() => { var (_, loaded) = HfModelLoader.Load(dir.Path); loaded.Dispose(); }, what);
        });
        Assert.True(c.Refused > c.Executed / 10 && c.Loaded > 0, $"{c}: the campaign must reach both outcomes");
    }

    private static unsafe void Exercise(string path)
    {
        using var f = SafeTensorsFile.Open(path);
        foreach (var name in f.TensorNames)
        {
            _ = f.DType(name);
            _ = f.RowMajorShape(name);
            var t = f.GetTensor(name);
            var p = (byte*)t.Data;
            if (t.ByteSize > 0) GC.KeepAlive(p[0] + p[t.ByteSize - 1]);
        }
    }

    /// <summary>Mutates the JSON header (numbers, strings, structure) or the length prefix, or truncates the file.</summary>
    private static (byte[] Bytes, string What) MutateSafeTensors(byte[] seed, Random rng)
    {
        int headerLength = (int)BitConverter.ToUInt64(seed, 0);
        string header = Encoding.UTF8.GetString(seed, 8, headerLength);
        byte[] data = seed[(8 + headerLength)..];
        switch (rng.Next(8))
        {
            case 0:
            {
                var bytes = (byte[])seed.Clone();
                ulong v = rng.Next(3) switch
                {
                    0 => (ulong)(headerLength + rng.Next(-9, 10)),
                    1 => ulong.Parse(ExtremeNumbers[rng.Next(3, 14)]),
                    _ => (ulong)rng.NextInt64(),
                };
                BitConverter.GetBytes(v).CopyTo(bytes, 0);
                return (bytes, $"header length {v}");
            }
            case 1:
            {
                int len = rng.Next(seed.Length);
                return (seed[..len], $"truncated to {len}");
            }
            default:
            {
                var (json, what) = MutateJson(header, rng);
                var jsonBytes = Encoding.UTF8.GetBytes(json);
                var bytes = new byte[8 + jsonBytes.Length + data.Length];
                BitConverter.GetBytes((ulong)jsonBytes.Length).CopyTo(bytes, 0);
                jsonBytes.CopyTo(bytes, 8);
                data.CopyTo(bytes, 8 + jsonBytes.Length);
                return (bytes, what);
            }
        }
    }

    /// <summary>Replaces a number or a string with a hostile one, or breaks the structure by a character.</summary>
    private static (string Json, string What) MutateJson(string json, Random rng)
    {
        var numbers = new List<(int Start, int Length)>();
        var strings = new List<(int Start, int Length)>();
        for (int i = 0; i < json.Length; i++)
        {
            if (json[i] == '"')
            {
                int end = json.IndexOf('"', i + 1);
                if (end < 0) break;
                strings.Add((i + 1, end - i - 1));
                i = end;
            }
            else if (char.IsDigit(json[i]) || json[i] == '-')
            {
                int s = i;
                while (i < json.Length && "0123456789.-+eE".Contains(json[i])) i++;
                numbers.Add((s, i - s));
                i--;
            }
        }
        int n = 1 + rng.Next(3);
        var sb = new StringBuilder();
        for (int k = 0; k < n; k++)
        {
            switch (rng.Next(6))
            {
                // The offsets were found before any edit, so they are used only for a mutant's first one.
                case 0 or 1 or 2 when numbers.Count > 0 && k == 0:
                {
                    var (s, l) = numbers[rng.Next(numbers.Count)];
                    string v = ExtremeNumbers[rng.Next(ExtremeNumbers.Length)];
                    json = json[..s] + v + json[(s + l)..];
                    sb.Append($"number at {s} -> {v}; ");
                    return (json, sb.ToString()); // offsets move after an edit; one per mutant keeps them valid
                }
                case 3 when strings.Count > 0 && k == 0:
                {
                    var (s, l) = strings[rng.Next(strings.Count)];
                    string v = Strings[rng.Next(Strings.Length)];
                    json = json[..s] + v + json[(s + l)..];
                    sb.Append($"string at {s} -> \"{v}\"; ");
                    return (json, sb.ToString());
                }
                case 4:
                {
                    int at = rng.Next(json.Length);
                    json = json.Remove(at, 1);
                    sb.Append($"deleted {at}; ");
                    break;
                }
                default:
                {
                    int at = rng.Next(json.Length + 1);
                    const string Structural = "{}[]\",:0-e \u00ff";
                    string ins = Structural[rng.Next(Structural.Length)].ToString();
                    json = json.Insert(at, ins);
                    sb.Append($"inserted '{ins}' at {at}; ");
                    break;
                }
            }
        }
        return (json, sb.ToString());
    }
}
