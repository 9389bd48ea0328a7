using System.Text.Json;
using System.Text.Unicode;
using Loom.Models.Architectures;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// Turns a Hugging Face <c>config.json</c> of a Llama-family model (dense, mixture of experts, Gemma 2/3, Phi-3,
/// DeepSeek-V2) into a <see cref="ModelConfig"/> equal to the one llama.cpp's converter would write (but for the RoPE
/// layout of llama's Q/K), with each architecture's transformers defaults for keys the file leaves out.
/// </summary>
internal static class HfConfigReader
{
    /// <summary>
    /// One transformers class: the GGUF architecture it becomes and its config class's defaults for keys a file may
    /// leave out (context length, RoPE base, RMSNorm epsilon).
    /// </summary>
    private sealed record Family(string Arch, int DefaultContext, double DefaultTheta = 10000.0, double DefaultEps = 1e-6);

    /// <summary>transformers class → GGUF architecture name and defaults. Mixtral is llama with experts, as in GGUF.</summary>
    private static readonly Dictionary<string, Family> Architectures = new(StringComparer.Ordinal)
    {
        ["LlamaForCausalLM"] = new("llama", 2048),
        ["MistralForCausalLM"] = new("mistral", 4096 * 32),
        ["Qwen2ForCausalLM"] = new("qwen2", 32768),
        ["Qwen3ForCausalLM"] = new("qwen3", 32768),
        [HfMoeConfig.MixtralClass] = new("llama", 4096 * 32, 1e6, 1e-5),
        ["Qwen2MoeForCausalLM"] = new("qwen2moe", 32768),
        ["Qwen3MoeForCausalLM"] = new("qwen3moe", 32768),
        ["OlmoeForCausalLM"] = new("olmoe", 4096, DefaultEps: 1e-5),
        ["Gemma2ForCausalLM"] = new("gemma2", 8192),
        ["Gemma3ForCausalLM"] = new("gemma3", 131072, 1e6),
        [HfPhi3.Class] = new("phi3", 4096, DefaultEps: 1e-5),
        [HfDeepseek2.Class] = new("deepseek2", 2048),
    };

    private static readonly Dictionary<string, string> ModelTypes = new(StringComparer.Ordinal)
    {
        ["llama"] = "LlamaForCausalLM", ["mistral"] = "MistralForCausalLM",
        ["qwen2"] = "Qwen2ForCausalLM", ["qwen3"] = "Qwen3ForCausalLM",
        ["mixtral"] = HfMoeConfig.MixtralClass, ["qwen2_moe"] = "Qwen2MoeForCausalLM", ["qwen3_moe"] = "Qwen3MoeForCausalLM",
        ["olmoe"] = "OlmoeForCausalLM", ["gemma2"] = "Gemma2ForCausalLM", ["gemma3_text"] = "Gemma3ForCausalLM", ["phi3"] = HfPhi3.Class,
        ["deepseek_v2"] = HfDeepseek2.Class,
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

        bool gemma = HfGemmaConfig.Is(arch.Arch);
        // Gemma names its activation hidden_activation (hidden_act is a legacy alias there).
        string act = (gemma ? j.String("hidden_activation") ?? j.String("hidden_act") : j.String("hidden_act")) ?? (gemma ? "gelu_pytorch_tanh" : "silu");
        string wantAct = gemma ? "gelu_pytorch_tanh" : "silu";
        if (act != wantAct) throw new ModelFormatException(path, $"config 'hidden_act{(gemma ? "ivation" : "")}' = '{act}' is not supported ({archClass} runs {wantAct})");
        if (j.Bool("mlp_bias") == true) throw new ModelFormatException(path, "mlp_bias is not supported");

        int dim = j.RequiredInt("hidden_size");
        int heads = j.RequiredInt("num_attention_heads");
        if (heads <= 0) throw new ModelFormatException(path, $"num_attention_heads {heads}");
        int headDim = j.Int("head_dim") ?? dim / heads;
        double partial = j.Double("partial_rotary_factor") ?? 1.0;
        if (!(partial > 0 && partial <= 1)) throw new ModelFormatException(path, $"partial_rotary_factor {partial}");

        // transformers v5 moves rope_theta and the scaling into rope_parameters (Gemma 3: one set per layer type,
        // the global layers' under full_attention).
        var ropeParams = j.Object("rope_parameters");
        var globalParams = ropeParams?.Object("full_attention") ?? ropeParams;
        double theta = j.Double("rope_theta") ?? globalParams?.Double("rope_theta") ?? arch.DefaultTheta;
        var scaling = j.Object("rope_scaling") ?? globalParams;

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
            RmsNormEps = (float)(j.Double("rms_norm_eps") ?? arch.DefaultEps),
            RopeTheta = (float)theta,
            RopeDim = (int)(headDim * partial),
            // Every HF Llama-family checkpoint rotates halves (rotate_half); only GGUF conversion permutes Q/K.
            RopeStyle = RopeStyle.NeoX,
            TiedEmbeddings = j.Bool("tie_word_embeddings") ?? gemma,
            QkvBias = arch.Arch is "qwen2" or "qwen2moe" || (j.Bool("attention_bias") ?? false),
            QkNorm = arch.Arch is "qwen3" or "qwen3moe" or "olmoe",
            QkNormFullWidth = arch.Arch == "olmoe",
        };
        config.Validate(path);
        if (HfMoeConfig.Is(archClass)) config = HfMoeConfig.Apply(j, archClass, config);
        if (gemma) config = HfGemmaConfig.Apply(j, config, ropeParams?.Object("sliding_attention"));
        // Phi-3's LongRoPE and DeepSeek's YaRN are their own.
        bool phi3 = arch.Arch == "phi3", deepseek = arch.Arch == "deepseek2";
        if (phi3) config = HfPhi3.Apply(j, config, scaling);
        if (deepseek) config = HfDeepseek2.Apply(j, config, scaling);
        config.Validate(path);

        if (scaling is { } s && !phi3 && !deepseek) config = HfConfigRopeScaling.Apply(path, config, s);
        config.Validate(path);
        return config;
    }
}
