using Loom.Core.Tensors;
using Loom.Models.Architectures;

namespace Loom.Models.Formats.Gguf;

/// <summary>Reads a Llama-family model's configuration and weights from a GGUF file (llama.cpp's naming).</summary>
public static class GgufModelLoader
{
    /// <summary>Architectures this loader understands, as GGUF's general.architecture spells them.</summary>
    public static readonly IReadOnlyList<string> SupportedArchitectures = ["llama", "mistral", "qwen2", "qwen3", "qwen2moe", "qwen3moe", "olmoe", GgufDeepseek2.Arch, Phi3Gguf.Arch, "gemma2", "gemma3"];

    /// <summary>Architectures whose every layer is a mixture of experts.</summary>
    private static readonly string[] MoeArchitectures = ["qwen2moe", "qwen3moe", "olmoe", GgufDeepseek2.Arch];

    public static ModelConfig ReadConfig(GgufFile f)
    {
        string path = f.Path;
        string arch = f.GetString("general.architecture") ?? throw new ModelFormatException(path, "missing general.architecture");
        if (!SupportedArchitectures.Contains(arch))
            throw new ModelFormatException(path, $"unsupported architecture '{arch}' (supported: {string.Join(", ", SupportedArchitectures)})");

        // Every hyperparameter is range-checked as the 64-bit value the file stores, before it is narrowed or sizes anything.
        int Int(string key, long max, int? fallback = null)
        {
            long? v = f.Metadata.TryGetValue($"{arch}.{key}", out var raw) && raw is GgufArray a ? Uniform(a, key) : f.GetInteger($"{arch}.{key}");
            if (v is null)
                return fallback ?? throw new ModelFormatException(path, $"missing metadata '{arch}.{key}'");
            if (v <= 0 || v > max) throw new ModelFormatException(path, $"metadata '{arch}.{key}' = {v} is out of range ({ModelLimits.Range(max)})");
            return (int)v.Value;
        }
        long? Uniform(GgufArray a, string key)
        {
            // Per-layer arrays (e.g. head counts) are fine when every layer agrees.
            var values = a.Values.Cast<object>().Select(GgufFile.ToInteger).Distinct().ToArray();
            if (values.Length == 0 || values.Any(v => v is null)) throw new ModelFormatException(path, $"metadata '{arch}.{key}' is not an integer or an array of integers");
            if (values.Length != 1) throw new ModelFormatException(path, $"per-layer '{arch}.{key}' with differing values is not supported");
            return values[0];
        }

        int dim = Int("embedding_length", ModelLimits.MaxWidth);
        int heads = Int("attention.head_count", ModelLimits.MaxHeads);
        int kvHeads = Int("attention.head_count_kv", ModelLimits.MaxHeads, heads);
        if (dim % heads != 0 && !f.Has($"{arch}.attention.key_length")) throw new ModelFormatException(path, $"embedding length {dim} is not divisible by {heads} heads");
        int headDim = Int("attention.key_length", ModelLimits.MaxHeadDim, dim / heads);
        int valueDim = Int("attention.value_length", ModelLimits.MaxHeadDim, headDim);
        if (valueDim != headDim && arch != GgufDeepseek2.Arch) throw new ModelFormatException(path, $"key length {headDim} != value length {valueDim} is not supported");

        var emb = f.FindTensor("token_embd.weight") ?? throw new ModelFormatException(path, "missing tensor 'token_embd.weight'");
        int vocab = f.Has($"{arch}.vocab_size")
            ? Int("vocab_size", ModelLimits.MaxVocab)
            : emb.Shape.Length > 1 && emb.Shape[1] is > 0 and <= ModelLimits.MaxVocab ? (int)emb.Shape[1]
            : throw new ModelFormatException(path, $"tensor 'token_embd.weight' of shape [{string.Join(", ", emb.Shape)}] gives no vocabulary size in range ({ModelLimits.Range(ModelLimits.MaxVocab)})");

        float freqScale = 1f;
        string? scaling = f.GetString($"{arch}.rope.scaling.type");
        // llama.cpp reads the factor for any scaling type but none; phi3's "longrope" is its factor tensors (Phi3Gguf).
        if (scaling is "linear" || (scaling is "longrope" && arch == Phi3Gguf.Arch) || (scaling is "yarn" && arch == GgufDeepseek2.Arch))
        {
            double factor = f.GetFloat($"{arch}.rope.scaling.factor") ?? 1;
            if (factor <= 0) throw new ModelFormatException(path, $"rope scaling factor {factor}");
            freqScale = (float)(1.0 / factor);
        }
        else if (scaling is not null and not "none")
            throw new ModelFormatException(path, $"rope scaling '{scaling}' is not supported");

        int ropeDim = Int("rope.dimension_count", ModelLimits.MaxHeadDim, headDim);
        float[]? freqFactors = null;
        if (f.FindTensor("rope_freqs.weight") is { } rf)
        {
            if (rf.Type != GgmlType.F32 || rf.Shape[0] != ropeDim / 2) throw new ModelFormatException(path, "rope_freqs.weight must be F32 with rope_dim/2 values");
            freqFactors = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(f.GetTensor("rope_freqs.weight").Bytes).ToArray();
        }

        int ffn = Int("feed_forward_length", ModelLimits.MaxWidth);
        int experts = f.Has($"{arch}.expert_count") ? Int("expert_count", ModelLimits.MaxExperts) : 0;
        if (MoeArchitectures.Contains(arch) && experts == 0) throw new ModelFormatException(path, $"{arch} needs metadata '{arch}.expert_count'");
        int used = experts > 0 ? Int("expert_used_count", experts) : 0;
        // Qwen2-MoE names its expert widths; Mixtral's and OLMoE's experts are feed_forward_length wide, and llama.cpp
        // gives Qwen2-MoE's shared expert that width when the key is absent.
        int expertFfn = experts > 0 ? Int("expert_feed_forward_length", ModelLimits.MaxWidth, arch == "qwen2moe" ? ffn / used : ffn) : 0;
        int sharedFfn = arch == "qwen2moe" ? Int("expert_shared_feed_forward_length", ModelLimits.MaxWidth, ffn) : 0;
        // Which architectures renormalize the top-k weights is llama.cpp's per-architecture choice; a file may say otherwise.
        bool normW = f.GetBool($"{arch}.expert_weights_norm") ?? arch is "llama" or "mistral" or "qwen3moe";

        var config = new ModelConfig
        {
            Architecture = arch,
            VocabSize = vocab,
            Dim = dim,
            FfnDim = ffn,
            NumLayers = Int("block_count", ModelLimits.MaxLayers),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = headDim,
            ContextLength = Int("context_length", ModelLimits.MaxContext),
            RmsNormEps = (float)(f.GetFloat($"{arch}.attention.layer_norm_rms_epsilon") ?? throw new ModelFormatException(path, $"missing metadata '{arch}.attention.layer_norm_rms_epsilon'")),
            RopeTheta = (float)(f.GetFloat($"{arch}.rope.freq_base") ?? 10000.0),
            RopeDim = ropeDim,
            // llama.cpp's converter permutes llama Q/K rows to adjacent-pair layout; qwen keeps rotate-half.
            RopeStyle = arch is "llama" or "mistral" ? RopeStyle.Interleaved : RopeStyle.NeoX,
            RopeFreqScale = freqScale,
            RopeFreqFactors = freqFactors,
            TiedEmbeddings = !f.HasTensor("output.weight"),
            QkvBias = arch == "qwen2" || f.HasTensor("blk.0.attn_q.bias"),
            QkNorm = arch is "qwen3" or "qwen3moe" or "olmoe" || f.HasTensor("blk.0.attn_q_norm.weight"),
            QkNormFullWidth = arch == "olmoe",
            ExpertCount = experts,
            ExpertUsedCount = used,
            ExpertFfnDim = expertFfn,
            SharedExpertFfnDim = sharedFfn,
            ExpertWeightsNorm = normW,
            ExpertWeightsScale = (float)(f.GetFloat($"{arch}.expert_weights_scale") ?? 1.0),
        };
        if (arch == Phi3Gguf.Arch) config = Phi3Gguf.Configure(f, config);
        if (GgufGemma.Is(arch)) config = GgufGemma.Apply(f, config);
        if (arch == GgufDeepseek2.Arch) config = GgufDeepseek2.Configure(f, config);
        config.Validate(path);
        CheckAgainstTensors(f, config);
        return config;
    }

    /// <summary>
    /// The metadata must describe the tensors the file holds: a header that claims more layers, heads or a wider
    /// vocabulary than the weights have is refused here, naming the key and the tensor, before anything is sized from it.
    /// </summary>
    private static void CheckAgainstTensors(GgufFile f, ModelConfig c)
    {
        string path = f.Path, arch = c.Architecture;
        var blocks = new HashSet<int>();
        foreach (var t in f.Tensors)
        {
            if (!t.Name.StartsWith("blk.", StringComparison.Ordinal)) continue;
            int dot = t.Name.IndexOf('.', 4);
            if (dot < 0 || !int.TryParse(t.Name.AsSpan(4, dot - 4), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int b) || b >= c.NumLayers)
                throw new ModelFormatException(path, $"tensor '{t.Name}' is not in one of the {c.NumLayers} blocks that metadata '{arch}.block_count' declares");
            blocks.Add(b);
        }
        if (blocks.Count != c.NumLayers)
        {
            int missing = Enumerable.Range(0, c.NumLayers).First(i => !blocks.Contains(i));
            throw new ModelFormatException(path, $"metadata '{arch}.block_count' = {c.NumLayers}, but the file has tensors for {blocks.Count} blocks (none named 'blk.{missing}.*')");
        }

        void Rows(string tensor, long expected, string what)
        {
            if (f.FindTensor(tensor) is not { } t) return; // a missing tensor is reported by name when the weights load
            if (t.Shape.Length < 2 || t.Shape[0] != c.Dim || Outer(t) != expected)
                throw new ModelFormatException(path, $"tensor '{tensor}' has shape [{string.Join(", ", t.Shape)}], which disagrees with {what}");
        }
        static long Outer(GgufTensorInfo t) => t.Shape.Skip(1).Aggregate(1L, (a, b) => a * b);

        Rows("token_embd.weight", c.VocabSize, $"metadata '{arch}.embedding_length' = {c.Dim} and a vocabulary of {c.VocabSize} (expected [{c.Dim}, {c.VocabSize}])");
        Rows("output.weight", c.VocabSize, $"metadata '{arch}.embedding_length' = {c.Dim} and a vocabulary of {c.VocabSize} (expected [{c.Dim}, {c.VocabSize}])");
        Rows("blk.0.attn_q.weight", (long)c.NumHeads * c.HeadDim,
            $"metadata '{arch}.attention.head_count' = {c.NumHeads} × head dim {c.HeadDim} (expected [{c.Dim}, {(long)c.NumHeads * c.HeadDim}])");
        Rows("blk.0.attn_k.weight", (long)c.NumKvHeads * c.HeadDim,
            $"metadata '{arch}.attention.head_count_kv' = {c.NumKvHeads} × head dim {c.HeadDim} (expected [{c.Dim}, {(long)c.NumKvHeads * c.HeadDim}])");
        // phi3's ffn_up holds the gate's rows too; Phi3Gguf checks it.
        if (arch != Phi3Gguf.Arch) Rows("blk.0.ffn_up.weight", c.FfnDim,
            $"metadata '{arch}.feed_forward_length' = {c.FfnDim} (expected [{c.Dim}, {c.FfnDim}])");
        Rows("blk.0.ffn_gate_inp.weight", c.ExpertCount, $"metadata '{arch}.expert_count' = {c.ExpertCount} (expected [{c.Dim}, {c.ExpertCount}])");
        Rows("blk.0.ffn_up_exps.weight", (long)c.ExpertFfnDim * c.ExpertCount,
            $"{c.ExpertCount} experts of feed-forward length {c.ExpertFfnDim} (expected [{c.Dim}, {c.ExpertFfnDim}, {c.ExpertCount}])");
    }

    /// <summary>Views of every weight tensor in the (still open) file; the file becomes the weights' owner.</summary>
    public static (ModelConfig Config, ModelWeights Weights) Load(GgufFile f)
    {
        var config = ReadConfig(f);
        WeightTensor? Opt(string name) => f.HasTensor(name) ? f.GetTensor(name) : null;
        var layers = new LayerWeights[config.NumLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            string p = $"blk.{i}.";
            if (config.Architecture == Phi3Gguf.Arch) { layers[i] = Phi3Gguf.Layer(f, config, i); continue; }
            if (config.Mla is not null) { layers[i] = GgufDeepseek2.Layer(f, config, i); continue; }
            layers[i] = new LayerWeights
            {
                AttnNorm = f.GetTensor(p + "attn_norm.weight"),
                Wq = f.GetTensor(p + "attn_q.weight"),
                Wk = f.GetTensor(p + "attn_k.weight"),
                Wv = f.GetTensor(p + "attn_v.weight"),
                Wo = f.GetTensor(p + "attn_output.weight"),
                Bq = Opt(p + "attn_q.bias"),
                Bk = Opt(p + "attn_k.bias"),
                Bv = Opt(p + "attn_v.bias"),
                QNorm = Opt(p + "attn_q_norm.weight"),
                KNorm = Opt(p + "attn_k_norm.weight"),
                FfnNorm = f.GetTensor(p + "ffn_norm.weight"),
                AttnPostNorm = config.PostNorms ? f.GetTensor(p + "post_attention_norm.weight") : null,
                FfnPostNorm = config.PostNorms ? f.GetTensor(p + "post_ffw_norm.weight") : null,
                WGate = config.IsMoe ? null : f.GetTensor(p + "ffn_gate.weight"),
                WUp = config.IsMoe ? null : f.GetTensor(p + "ffn_up.weight"),
                WDown = config.IsMoe ? null : f.GetTensor(p + "ffn_down.weight"),
                Moe = config.IsMoe ? new MoeWeights
                {
                    Router = f.GetTensor(p + "ffn_gate_inp.weight"),
                    GateExps = f.GetTensor(p + "ffn_gate_exps.weight"),
                    UpExps = f.GetTensor(p + "ffn_up_exps.weight"),
                    DownExps = f.GetTensor(p + "ffn_down_exps.weight"),
                    SharedGateInp = Opt(p + "ffn_gate_inp_shexp.weight"),
                    GateShexp = Opt(p + "ffn_gate_shexp.weight"),
                    UpShexp = Opt(p + "ffn_up_shexp.weight"),
                    DownShexp = Opt(p + "ffn_down_shexp.weight"),
                } : null,
            };
        }
        var embedding = f.GetTensor("token_embd.weight");
        var weights = new ModelWeights
        {
            TokenEmbedding = embedding,
            Layers = layers,
            OutputNorm = f.GetTensor("output_norm.weight"),
            // Gemma's classifier is always the embedding (llama.cpp ignores any output.weight there).
            Output = (GgufGemma.Is(config.Architecture) ? null : Opt("output.weight")) ?? embedding,
            Owners = [f],
        };
        WeightShapes.Validate(config, weights, f.Path);
        return (config, weights);
    }
}
