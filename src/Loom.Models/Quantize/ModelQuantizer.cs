using System.Globalization;
using Loom.Core.Quantization;
using Loom.Core.Tensors;
using Loom.Models.Formats.Gguf;

namespace Loom.Models.Quantize;

/// <summary>
/// Rewrites a GGUF model with its weights in another type, as llama-quantize does: every metadata entry is copied
/// (with <c>general.file_type</c> and <c>general.quantization_version</c> set), tensors come out in llama.cpp's
/// order (non-block tensors, then block by block, names in ordinal order within each), and each weight gets the
/// type <see cref="TensorTypeRules"/> chooses. Tensors are converted a slice of rows at a time straight from the
/// memory-mapped input, so a multi-GB model never sits in memory.
/// </summary>
public static unsafe class ModelQuantizer
{
    /// <summary>Elements converted per slice of rows.</summary>
    private const int SliceElements = 1 << 20;

    private static readonly string[] SplitKeys = ["split.no", "split.count", "split.tensors.count"];

    /// <summary>
    /// Quantizes <paramref name="inputPath"/> into <paramref name="outputPath"/> and returns what each tensor became;
    /// <paramref name="progress"/> hears the input bytes converted, as each tensor starts and ends.
    /// Throws <see cref="ModelFormatException"/> for a bad input file and <see cref="ArgumentException"/> when the
    /// input is already quantized (without <see cref="ModelQuantizeOptions.AllowRequantize"/>) or the paths coincide.
    /// Nothing is left at <paramref name="outputPath"/> on failure.
    /// </summary>
    public static IReadOnlyList<QuantizedTensor> Quantize(string inputPath, string outputPath, ModelQuantizeOptions options, IProgress<WorkProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(inputPath);
        ArgumentNullException.ThrowIfNull(outputPath);
        ArgumentNullException.ThrowIfNull(options);
        if (Path.GetFullPath(inputPath) == Path.GetFullPath(outputPath))
            throw new ArgumentException($"output '{outputPath}' would overwrite the input");
        using var input = GgufFile.Open(inputPath);
        if (input.GetInteger("split.count") is > 1) throw new ModelFormatException(inputPath, "split models are not supported; merge the parts first");
        var rules = new TensorTypeRules(options.FileType, QuantizationModelInfo.FromGguf(input), options.Pure);

        var ordered = input.Tensors.OrderBy(t => t.Name, LlamaCppTensorOrder.Instance).ToList();
        var plan = new List<QuantizedTensor>(ordered.Count);
        foreach (var t in ordered)
        {
            var to = rules.Choose(t.Name, t.Shape, t.Type);
            if (to != t.Type)
            {
                if (!WeightQuantizer.CanWrite(to)) throw new NotSupportedException($"tensor '{t.Name}': Loom cannot write {to}");
                if (LlamaFileTypes.IsQuantized(t.Type) && !options.AllowRequantize)
                    throw new ArgumentException($"tensor '{t.Name}' is already {t.Type}; requantizing loses quality (allow it explicitly to go on)");
            }
            plan.Add(new QuantizedTensor(t.Name, t.Shape, t.Type, to, t.ByteSize, TypeTraits.RowSize(to, t.Shape[0]) * (ElementCount(t.Shape) / t.Shape[0])));
        }

        // llama.cpp copies every entry but the split ones, then sets these two, which moves them to the end.
        var w = new GgufWriter();
        foreach (var (key, value) in input.Metadata)
            if (!SplitKeys.Contains(key) && key is not ("general.quantization_version" or "general.file_type")) w.Add(key, value);
        w.Add("general.quantization_version", 2u);
        w.Add("general.file_type", (uint)options.FileType);

        long totalIn = plan.Sum(p => p.BytesIn), doneIn = 0;
        int threads = Math.Max(1, options.Threads ?? Environment.ProcessorCount);
        var buffers = new Buffers(); // tensors are written one after another, so they share the slice buffers
        for (int i = 0; i < plan.Count; i++)
        {
            var p = plan[i];
            var tensor = input.GetTensor(p.Name);
            int index = i;
            w.AddTensor(p.Name, p.To, p.Shape, stream =>
            {
                string item = $"[{index + 1}/{plan.Count}] {p.Name} -> {p.To}";
                progress?.Report(new WorkProgress(doneIn, totalIn, WorkProgress.Bytes, item));
                // Slice by slice, since one embedding matrix can take a good share of the whole run.
                void Advance(long bytes)
                {
                    doneIn += bytes;
                    progress?.Report(new WorkProgress(doneIn, totalIn, WorkProgress.Bytes, item));
                }
                if (p.To == p.From) Copy(tensor, stream, Advance);
                else Convert(tensor, p.To, stream, threads, buffers, Advance);
            });
        }
        w.Write(outputPath);
        return plan;
    }

    private static void Copy(WeightTensor t, Stream output, Action<long> advance)
    {
        for (long off = 0; off < t.ByteSize; off += 1 << 24)
        {
            int n = (int)Math.Min(1 << 24, t.ByteSize - off);
            output.Write(new ReadOnlySpan<byte>((byte*)t.Data + off, n));
            advance(n);
        }
    }

    /// <summary>Dequantizes a slice of rows to floats, quantizes it to <paramref name="to"/> (rows split over threads) and writes it.</summary>
    private static void Convert(WeightTensor t, GgmlType to, Stream output, int threads, Buffers buffers, Action<long> advance)
    {
        int cols = t.Cols;
        long rows = t.ElementCount / cols;
        long rowsPerSlice = Math.Max(1, SliceElements / cols);
        long inRow = t.RowBytes, outRow = TypeTraits.RowSize(to, cols);
        var floats = buffers.Floats(rowsPerSlice * cols);
        var bytes = buffers.Bytes(rowsPerSlice * outRow);
        for (long r0 = 0; r0 < rows; r0 += rowsPerSlice)
        {
            int n = (int)Math.Min(rowsPerSlice, rows - r0);
            var src = (byte*)t.Data + r0 * inRow;
            void Rows(int start, int end)
            {
                for (int r = start; r < end; r++)
                {
                    var f = floats.AsSpan(r * cols, cols);
                    Quants.Dequantize(t.Type, new ReadOnlySpan<byte>(src + r * inRow, (int)inRow), f);
                    WeightQuantizer.Quantize(to, f, bytes.AsSpan((int)(r * outRow), (int)outRow));
                }
            }
            int workers = Math.Min(threads, n);
            if (workers <= 1) Rows(0, n);
            else Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, c => Rows(n * c / workers, n * (c + 1) / workers));
            output.Write(bytes, 0, (int)(n * outRow));
            advance(n * inRow);
        }
    }

    private sealed class Buffers
    {
        private float[] _floats = [];
        private byte[] _bytes = [];
        public float[] Floats(long n) => _floats.Length >= n ? _floats : _floats = new float[n];
        public byte[] Bytes(long n) => _bytes.Length >= n ? _bytes : _bytes = new byte[n];
    }

    private static long ElementCount(long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        return n;
    }

    /// <summary>llama.cpp's weight order: by block number (tensors outside blocks first), then by name.</summary>
    public sealed class LlamaCppTensorOrder : IComparer<string>
    {
        public static readonly LlamaCppTensorOrder Instance = new();

        public int Compare(string? a, string? b)
        {
            int la = Block(a!), lb = Block(b!);
            return la != lb ? la.CompareTo(lb) : string.CompareOrdinal(a, b);
        }

        private static int Block(string name)
        {
            if (!name.StartsWith("blk.", StringComparison.Ordinal)) return -1;
            int i = 4;
            while (i < name.Length && char.IsAsciiDigit(name[i])) i++;
            return i > 4 && i < name.Length && name[i] == '.' && int.TryParse(name.AsSpan(4, i - 4), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : -1;
        }
    }
}
