using Loom.Models.Architectures;
using Loom.Models.Formats.Gguf;
using Loom.Models.Formats.SafeTensors;
using Loom.Models.Formats.Llama2c;
using Loom.Models.Tokenizers;

namespace Loom.Models;

/// <summary>Options for <see cref="ModelLoader.Load"/>.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>Tokenizer file for llama2.c checkpoints (default: tokenizer.bin or tok*.bin beside the checkpoint).</summary>
    public string? TokenizerPath { get; init; }
    /// <summary>Touch every weight page at load so the first token does not pay for page faults.</summary>
    public bool Prefetch { get; init; }
    /// <summary>
    /// Hears how far loading has come, in bytes of weights: preparing them for the forward pass (repacking, checks),
    /// then, with <see cref="Prefetch"/>, paging them in, each pass taking an equal share of the total.
    /// </summary>
    public IProgress<WorkProgress>? Progress { get; init; }
    /// <summary>
    /// The longest sequence to serve, below the model's own context (llama.cpp's <c>n_ctx</c> per sequence, vLLM's
    /// <c>max_model_len</c>); null keeps the model's. LongRoPE models pick their rope factors by it, as llama.cpp does.
    /// </summary>
    public int? ContextLength { get; init; }
}

/// <summary>Opens any model Loom runs: a GGUF file, a Hugging Face directory (safetensors + config.json + tokenizer.json) or a llama2.c checkpoint.</summary>
public static class ModelLoader
{
    public static LoadedModel Load(string path, ModelLoadOptions? options = null)
    {
        options ??= new ModelLoadOptions();
        int passes = options.Prefetch ? 2 : 1;
        var prepare = Pass(options.Progress, 0, passes);
        LoadedModel model;
        if (options.ContextLength is <= 0) throw new ArgumentOutOfRangeException(nameof(options), $"context length {options.ContextLength} must be positive");
        var fit = (Func<ModelConfig, ModelConfig>)(c => options.ContextLength is int n && n < c.ContextLength ? c with { ContextLength = n } : c);
        if (Directory.Exists(path)) model = LoadHuggingFace(path, prepare, fit);
        else if (!File.Exists(path)) throw new ModelFormatException(path, "no such file or directory");
        else if (IsGguf(path)) model = LoadGguf(path, prepare, fit);
        else if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) model = LoadHuggingFace(Path.GetDirectoryName(Path.GetFullPath(path))!, prepare, fit);
        else model = LoadLlama2c(path, options.TokenizerPath, prepare, fit);
        if (options.Prefetch) Touch(model, Pass(options.Progress, 1, passes));
        return model;
    }

    /// <summary>
    /// Pass <paramref name="index"/> of <paramref name="count"/> over the weights as its share of one total, the weights'
    /// size, which is the figure a reader expects to see.
    /// </summary>
    private static IProgress<WorkProgress>? Pass(IProgress<WorkProgress>? progress, int index, int count) => progress is null ? null
        : new InlineProgress<WorkProgress>(p => progress.Report(p with { Done = (index * p.Total + p.Done) / count }));

    private static bool IsGguf(string path)
    {
        using var fs = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return fs.Read(magic) == 4 && BitConverter.ToUInt32(magic) == GgufFile.Magic;
    }

    private static LoadedModel LoadGguf(string path, IProgress<WorkProgress>? progress, Func<ModelConfig, ModelConfig> fit)
    {
        var file = GgufFile.Open(path);
        try
        {
            var (config, weights) = GgufModelLoader.Load(file);
            var tokenizer = Tokenizer.FromGguf(file);
            CheckVocab(path, config, tokenizer);
            return new LoadedModel
            {
                Path = path,
                Format = "gguf",
                Transformer = new Transformer(fit(config), weights, progress),
                Tokenizer = tokenizer,
                Name = file.GetString("general.name") ?? Path.GetFileNameWithoutExtension(path),
                Metadata = file.Metadata,
            };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static LoadedModel LoadHuggingFace(string dir, IProgress<WorkProgress>? progress, Func<ModelConfig, ModelConfig> fit)
    {
        string tokenizerJson = Path.Combine(dir, "tokenizer.json");
        if (!File.Exists(tokenizerJson)) throw new ModelFormatException(dir, "no tokenizer.json in the model directory");
        var tokenizer = Tokenizer.FromHuggingFace(tokenizerJson, File.Exists(Path.Combine(dir, "tokenizer_config.json")) ? Path.Combine(dir, "tokenizer_config.json") : null);
        var (config, weights) = HfModelLoader.Load(dir);
        try
        {
            CheckVocab(dir, config, tokenizer);
            return new LoadedModel
            {
                Path = dir,
                Format = "safetensors",
                Transformer = new Transformer(fit(config), weights, progress),
                Tokenizer = tokenizer,
                Name = Path.GetFileName(Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar)),
            };
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    private static LoadedModel LoadLlama2c(string path, string? tokenizerPath, IProgress<WorkProgress>? progress, Func<ModelConfig, ModelConfig> fit)
    {
        tokenizerPath ??= FindLlama2cTokenizer(path) ?? throw new ModelFormatException(path, "llama2.c checkpoint needs a tokenizer: pass --tokenizer or put tokenizer.bin beside it");
        var (config, weights) = Llama2cCheckpoint.Load(path);
        try
        {
            var tokenizer = Tokenizer.FromLlama2c(tokenizerPath, config.VocabSize);
            CheckVocab(path, config, tokenizer);
            return new LoadedModel
            {
                Path = path,
                Format = "llama2c",
                Transformer = new Transformer(fit(config), weights, progress),
                Tokenizer = tokenizer,
                Name = Path.GetFileNameWithoutExtension(path),
            };
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    private static string? FindLlama2cTokenizer(string checkpoint)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(checkpoint))!;
        string plain = Path.Combine(dir, "tokenizer.bin");
        if (File.Exists(plain)) return plain;
        var candidates = Directory.GetFiles(dir, "tok*.bin");
        return candidates.Length == 1 ? candidates[0] : null;
    }

    private static void CheckVocab(string path, ModelConfig config, Tokenizer tokenizer)
    {
        if (tokenizer.VocabSize > config.VocabSize)
            throw new ModelFormatException(path, $"tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary is {config.VocabSize}");
    }

    /// <summary>Reads one byte per page of every tensor so the OS maps the weights in now.</summary>
    private static unsafe void Touch(LoadedModel model, IProgress<WorkProgress>? progress)
    {
        var tensors = model.Transformer.Weights.All().ToArray();
        long total = tensors.Sum(t => t.ByteSize), done = 0;
        int sink = 0;
        foreach (var t in tensors)
        {
            byte* p = (byte*)t.Data;
            for (long o = 0; o < t.ByteSize; o += 4096) sink += p[o];
            done += t.ByteSize;
            progress?.Report(new WorkProgress(done, total, WorkProgress.Bytes, t.Name));
        }
        GC.KeepAlive(sink);
    }
}
