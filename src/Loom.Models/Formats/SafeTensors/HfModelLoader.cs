using Loom.Core.Tensors;
using Loom.Models.Architectures;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// Loads a Hugging Face checkpoint directory (<c>config.json</c> plus safetensors) of Llama, Mistral, Qwen2, Qwen3,
/// the mixtures of experts (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE), Gemma 2/3, Phi-3 and DeepSeek-V2, checking every
/// tensor's shape against the config. Tensors are views into the mapped files except where llama.cpp's converter
/// transforms them (<see cref="HfTensors"/>): the result equals what loading the converted GGUF gives, but for the
/// RoPE layout of llama's Q/K rows (rotate-half here, permuted there).
/// </summary>
public static class HfModelLoader
{
    /// <summary>Reads <c>config.json</c> and maps the weights; the weights own the mapped files and any transformed copies.</summary>
    public static (ModelConfig Config, ModelWeights Weights) Load(string directory)
    {
        var config = ReadConfig(Path.Combine(directory, "config.json"));
        var checkpoint = SafeTensorsCheckpoint.Open(directory);
        var tensors = new HfTensors(checkpoint);
        try
        {
            var (weights, tied) = Build(config, tensors);
            config = config with { TiedEmbeddings = tied };
            WeightShapes.Validate(config, weights, directory);
            weights.Owners.Add(checkpoint);
            weights.Owners.AddRange(tensors.Owned);
            return (config, weights);
        }
        catch
        {
            tensors.Dispose();
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>Parses a <c>config.json</c>; unsupported architectures and rope scalings are refused.</summary>
    public static ModelConfig ReadConfig(string configJsonPath) => HfConfigReader.Read(configJsonPath);

    private static (ModelWeights Weights, bool Tied) Build(ModelConfig c, HfTensors t)
    {
        const string Embed = "model.embed_tokens.weight", Head = "lm_head.weight";
        bool gemma = HfGemmaConfig.Is(c.Architecture);
        // Gemma's RMSNorm multiplies by 1 + w; the GGUF form (and Loom's kernels) store w + 1.
        WeightTensor Norm(string name, params long[] shape) => gemma ? t.F32(name, 1f, shape) : t.Get(name, shape);

        // A tied checkpoint may store only one of the two (TinyStories-656K keeps only lm_head); use it for both.
        bool hasEmbed = t.Has(Embed), hasHead = t.Has(Head);
        if (!hasEmbed && !hasHead) throw new ModelFormatException(t.Path, $"missing tensor '{Embed}' (and '{Head}')");
        var embedding = t.Get(hasEmbed ? Embed : Head, c.Dim, c.VocabSize);
        bool tied = c.TiedEmbeddings || !hasHead || !hasEmbed;
        var output = tied ? embedding : t.Get(Head, c.Dim, c.VocabSize);

        var layers = new LayerWeights[c.NumLayers];
        for (int i = 0; i < c.NumLayers; i++) layers[i] = c.Architecture == "phi3" ? HfPhi3.Layer(c, t, i)
            : c.Mla is not null ? HfDeepseek2.Layer(c, t, i)
            : Layer(c, t, i, Norm);
        var weights = new ModelWeights
        {
            TokenEmbedding = embedding,
            Layers = layers,
            OutputNorm = Norm("model.norm.weight", c.Dim),
            Output = output,
        };
        return (weights, tied);
    }

    private static LayerWeights Layer(ModelConfig c, HfTensors t, int i, Func<string, long[], WeightTensor> norm)
    {
        long qDim = (long)c.NumHeads * c.HeadDim, kvDim = (long)c.NumKvHeads * c.HeadDim;
        long qNorm = c.QkNormFullWidth ? qDim : c.HeadDim, kNorm = c.QkNormFullWidth ? kvDim : c.HeadDim;
        string p = $"model.layers.{i}.";
        if (t.Has(p + "self_attn.o_proj.bias")) throw new ModelFormatException(t.Path, $"tensor '{p}self_attn.o_proj.bias': output projection bias is not supported");
        // Gemma: input_layernorm → attention → post_attention_layernorm, then pre_feedforward_layernorm → MLP →
        // post_feedforward_layernorm. Elsewhere post_attention_layernorm is the norm before the feed-forward.
        bool post = c.PostNorms;
        return new LayerWeights
        {
            AttnNorm = norm(p + "input_layernorm.weight", [c.Dim]),
            Wq = t.Get(p + "self_attn.q_proj.weight", c.Dim, qDim),
            Wk = t.Get(p + "self_attn.k_proj.weight", c.Dim, kvDim),
            Wv = t.Get(p + "self_attn.v_proj.weight", c.Dim, kvDim),
            Wo = t.Get(p + "self_attn.o_proj.weight", qDim, c.Dim),
            Bq = t.Optional(p + "self_attn.q_proj.bias", c.QkvBias, qDim),
            Bk = t.Optional(p + "self_attn.k_proj.bias", c.QkvBias, kvDim),
            Bv = t.Optional(p + "self_attn.v_proj.bias", c.QkvBias, kvDim),
            QNorm = c.QkNorm ? norm(p + "self_attn.q_norm.weight", [qNorm]) : null,
            KNorm = c.QkNorm ? norm(p + "self_attn.k_norm.weight", [kNorm]) : null,
            FfnNorm = norm(p + (post ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"), [c.Dim]),
            AttnPostNorm = post ? norm(p + "post_attention_layernorm.weight", [c.Dim]) : null,
            FfnPostNorm = post ? norm(p + "post_feedforward_layernorm.weight", [c.Dim]) : null,
            WGate = c.IsMoe ? null : t.Get(p + "mlp.gate_proj.weight", c.Dim, c.FfnDim),
            WUp = c.IsMoe ? null : t.Get(p + "mlp.up_proj.weight", c.Dim, c.FfnDim),
            WDown = c.IsMoe ? null : t.Get(p + "mlp.down_proj.weight", c.FfnDim, c.Dim),
            Moe = c.IsMoe ? HfMoeWeights.Layer(c, t, i) : null,
        };
    }
}
