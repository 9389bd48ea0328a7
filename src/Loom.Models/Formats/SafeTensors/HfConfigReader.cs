using System.Text.Json;
using System.Text.Unicode;
using Loom.Models.Architectures;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// Turns a Hugging Face <c>config.json</c> of a Llama-family model into a <see cref="ModelConfig"/>,
/// with each architecture's transformers defaults for keys the file leaves out.
/// </summary>
internal static class HfConfigReader
{
    /// <summary>transformers class → GGUF architecture name, and that class's default context length.</summary>
    private static readonly Dictionary<string, (string Arch, int DefaultContext)> Architectures = new(StringComparer.Ordinal)
    {
        ["LlamaForCausalLM"] = ("llama", 2048),
        ["MistralForCausalLM"] = ("mistral", 4096 * 32),
        ["Qwen2ForCausalLM"] = ("qwen2", 32768),
        ["Qwen3ForCausalLM"] = ("qwen3", 32768),
    };

    private static readonly Dictionary<string, string> ModelTypes = new(StringComparer.Ordinal)
    {
        ["llama"] = "LlamaForCausalLM", ["mistral"] = "MistralForCausalLM",
        ["qwen2"] = "Qwen2ForCausalLM", ["qwen3"] = "Qwen3ForCausalLM",
    };

    public static ModelConfig Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ModelFormatException(path, $"cannot read: {e.Message}", e);
        }
        if (!Utf8.IsValid(bytes)) throw new ModelFormatException(path, "config is not valid UTF-8");
        try
        {
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 32, AllowTrailingCommas = true });
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "config is not a JSON object");
            return FromJson(new HfConfigJson(path, doc.RootElement));
        }
        catch (JsonException e) { throw new ModelFormatException(path, $"config is not valid JSON: {e.Message}", e); }
    }

    private static ModelConfig FromJson(HfConfigJson j)
    {
        string path = j.Path;
        string archClass = j.FirstOfArray("architectures")
            ?? (j.String("model_type") is { } mt && ModelTypes.TryGetValue(mt, out var c) ? c : null)
            ?? throw new ModelFormatException(path, "config names no architecture");
        if (!Architectures.TryGetValue(archClass, out var arch))
            throw new ModelFormatException(path, $"unsupported architecture {archClass}");

        string act = j.String("hidden_act") ?? "silu";
        if (act != "silu") throw new ModelFormatException(path, $"activation '{act}' is not supported (only silu)");
        if (j.Bool("mlp_bias") == true) throw new ModelFormatException(path, "mlp_bias is not supported");

        int dim = j.RequiredInt("hidden_size");
        int heads = j.RequiredInt("num_attention_heads");
        if (heads <= 0) throw new ModelFormatException(path, $"num_attention_heads {heads}");
        int headDim = j.Int("head_dim") ?? dim / heads;
        double partial = j.Double("partial_rotary_factor") ?? 1.0;
        if (!(partial > 0 && partial <= 1)) throw new ModelFormatException(path, $"partial_rotary_factor {partial}");

        // transformers v5 moves rope_theta and the scaling into rope_parameters.
        var ropeParams = j.Object("rope_parameters");
        double theta = j.Double("rope_theta") ?? ropeParams?.Double("rope_theta") ?? 10000.0;

        var config = new ModelConfig
        {
            Architecture = arch.Arch,
            VocabSize = j.RequiredInt("vocab_size"),
            Dim = dim,
            FfnDim = j.RequiredInt("intermediate_size"),
            NumLayers = j.RequiredInt("num_hidden_layers"),
            NumHeads = heads,
            NumKvHeads = j.Int("num_key_value_heads") ?? heads,
            HeadDim = headDim,
            ContextLength = j.Int("max_position_embeddings") ?? arch.DefaultContext,
            RmsNormEps = (float)(j.Double("rms_norm_eps") ?? 1e-6),
            RopeTheta = (float)theta,
            RopeDim = (int)(headDim * partial),
            // Every HF Llama-family checkpoint rotates halves (rotate_half); only GGUF conversion permutes Q/K.
            RopeStyle = RopeStyle.NeoX,
            TiedEmbeddings = j.Bool("tie_word_embeddings") ?? false,
            QkvBias = arch.Arch == "qwen2" || (j.Bool("attention_bias") ?? false),
            QkNorm = arch.Arch == "qwen3",
        };
        config.Validate(path);

        var scaling = j.Object("rope_scaling") ?? ropeParams;
        if (scaling is { } s) config = HfConfigRopeScaling.Apply(path, config, s);
        config.Validate(path);
        return config;
    }
}
