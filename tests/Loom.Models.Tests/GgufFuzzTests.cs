using System.Diagnostics;
using System.Text;
using Loom.Models.Formats.Gguf;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Models.Tests;

/// <summary>
/// Mutates valid GGUF files thousands of times and checks that every mutant either opens (with all metadata
/// and every tensor's first and last byte readable) or is refused with <see cref="ModelFormatException"/>.
/// Anything else (another exception type, an access violation that kills the run, a hang) fails.
/// </summary>
public class GgufFuzzTests(ITestOutputHelper output)
{
    private static readonly ulong[] Extremes = [0, 1, 2, 31, 32, 255, 65535, int.MaxValue, 1UL << 31, uint.MaxValue, 1UL << 32, long.MaxValue, 1UL << 63, ulong.MaxValue];

    [Fact]
    public void SelfGeneratedFilesSurviveMutation()
    {
        var originals = new[] { GgufSamples.Bytes(1), GgufSamples.Bytes(2, alignment: 64), GgufSamples.Bytes(3, alignment: 8) };
        var stats = Fuzz(originals, iterations: 3600, seed: 12345);
        // The campaign must exercise both outcomes, or it tests nothing.
        Assert.True(stats.Refused > 1000, $"only {stats.Refused} mutants were refused");
        Assert.True(stats.Opened > 100, $"only {stats.Opened} mutants opened");
    }

    [Fact]
    public void ShippedModelSurvivesMutation() => RealModelSurvivesMutation(RepoModels.Stories260K);

    [SharedFact]
    public void SharedModelSurvivesMutation() => RealModelSurvivesMutation(SharedData.Path("models/llama-2-tiny-random.gguf"));

    private void RealModelSurvivesMutation(string path)
    {
        var stats = Fuzz([File.ReadAllBytes(path)], iterations: 400, seed: 777);
        Assert.True(stats.Refused > 100, $"only {stats.Refused} mutants were refused");
    }

    private sealed record Stats(int Opened, int Refused);

    private Stats Fuzz(byte[][] originals, int iterations, int seed)
    {
        using var dir = new TempDir(inMemory: true);
        var path = dir.File("mutant.gguf");
        var layouts = originals.Select(GgufLayout.Parse).ToArray();
        foreach (var o in originals) { File.WriteAllBytes(path, o); Assert.Equal(Outcome.Opened, Exercise(path, "original")); }

        var rng = new Random(seed);
        var sw = Stopwatch.StartNew();
        int opened = 0, refused = 0;
        var buffer = new byte[originals.Max(o => o.Length)]; // reused: a fresh large array per mutant churns the GC
        for (int i = 0; i < iterations; i++)
        {
            int which = rng.Next(originals.Length);
            var original = originals[which];
            original.CopyTo(buffer, 0);
            var (length, what) = Mutate(buffer.AsSpan(0, original.Length), layouts[which], rng);
            using (var fs = new FileStream(path, FileMode.Create, FileAccess.Write)) fs.Write(buffer, 0, length);
            if (Exercise(path, $"iteration {i} (file {which}): {what}") == Outcome.Opened) opened++; else refused++;
        }
        output.WriteLine($"{iterations} mutants in {sw.Elapsed.TotalSeconds:F1}s: {opened} opened, {refused} refused");
        return new Stats(opened, refused);
    }

    /// <summary>Mutates <paramref name="b"/> in place; returns how many of its bytes form the mutant.</summary>
    internal static (int Length, string What) Mutate(Span<byte> b, GgufLayout layout, Random rng)
    {
        int header = (int)Math.Min(layout.HeaderEnd, b.Length);
        switch (rng.Next(10))
        {
            case 0 or 1:
            {
                int len = rng.Next(2) == 0 ? rng.Next(header + 1) : rng.Next(b.Length);
                return (len, $"truncated to {len}");
            }
            case 2 or 3 or 4:
            {
                var f = layout.RandomField(rng);
                ulong v = rng.Next(4) == 0 ? (ulong)rng.NextInt64() ^ Extremes[rng.Next(Extremes.Length)] : Extremes[rng.Next(Extremes.Length)];
                Write(b, f, v);
                return (b.Length, $"{f.Kind} at {f.Offset} set to {v}");
            }
            case 5:
            {
                var f = layout.RandomField(rng);
                ulong v = Extremes[rng.Next(Extremes.Length)];
                Write(b, f, v);
                int len = rng.Next(b.Length);
                return (len, $"{f.Kind} at {f.Offset} set to {v}, truncated to {len}");
            }
            case 6:
            {
                // Small nudges of sizes are nastier than extremes: they shift every later field by a few bytes.
                var f = layout.RandomField(rng);
                ulong v = f.Original + (ulong)rng.Next(-9, 10);
                Write(b, f, v);
                return (b.Length, $"{f.Kind} at {f.Offset} nudged to {v}");
            }
            default:
            {
                int n = 1 + rng.Next(8);
                var sb = new StringBuilder("flipped");
                for (int k = 0; k < n; k++)
                {
                    int at = rng.Next(4) == 0 ? rng.Next(b.Length) : rng.Next(header);
                    if (rng.Next(2) == 0) b[at] ^= (byte)(1 << rng.Next(8)); else b[at] = (byte)rng.Next(256);
                    sb.Append(' ').Append(at);
                }
                return (b.Length, sb.ToString());
            }
        }
    }

    private static void Write(Span<byte> b, GgufLayout.Field f, ulong v)
    {
        for (int k = 0; k < f.Width; k++) b[f.Offset + k] = (byte)(v >> (8 * k));
    }

    private enum Outcome { Opened, Refused }

    private static unsafe Outcome Exercise(string path, string what)
    {
        try
        {
            using var f = GgufFile.Open(path);
            foreach (var (key, value) in f.Metadata)
            {
                Touch(value);
                Probe(() => f.GetString(key)); Probe(() => f.GetInteger(key)); Probe(() => f.GetInt32(key));
                Probe(() => f.GetFloat(key)); Probe(() => f.GetBool(key)); Probe(() => f.GetArray(key));
                Probe(() => f.GetStringArray(key)); Probe(() => f.GetFloatArray(key)); Probe(() => f.GetInt32Array(key));
            }
            foreach (var info in f.Tensors)
            {
                var t = f.GetTensor(info.Name);
                var p = (byte*)t.Data;
                int sum = p[0] + p[t.ByteSize - 1];
                GC.KeepAlive(sum);
            }
            return Outcome.Opened;
        }
        catch (ModelFormatException e)
        {
            Assert.Equal(path, e.FilePath);
            return Outcome.Refused;
        }
        catch (Exception e)
        {
            Assert.Fail($"{what}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            throw;
        }
    }

    private static void Probe(Func<object?> getter)
    {
        try { getter(); } catch (ModelFormatException) { }
    }

    private static int Touch(object value)
    {
        if (value is not GgufArray a) return value.GetHashCode();
        int h = a.Count;
        foreach (var x in a.Values) h ^= Touch(x!);
        return h;
    }
}
