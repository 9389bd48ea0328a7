using Loom.Core.Tensors;
using Loom.Models.Architectures;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// Loads a Hugging Face Llama/Mistral/Qwen2/Qwen3 checkpoint directory (<c>config.json</c> plus
/// safetensors) as views into the mapped files, checking every tensor's shape against the config.
/// </summary>
public static class HfModelLoader
{
    /// <summary>Reads <c>config.json</c> and maps the weights; the weights own the mapped files.</summary>
    public static (ModelConfig Config, ModelWeights Weights) Load(string directory)
    {
        var config = ReadConfig(Path.Combine(directory, "config.json"));
        var checkpoint = SafeTensorsCheckpoint.Open(directory);
        try
        {
            var (weights, tied) = Build(config, checkpoint);
            weights.Owners.Add(checkpoint);
            return (config with { TiedEmbeddings = tied }, weights);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>Parses a <c>config.json</c>; unsupported architectures and rope scalings are refused.</summary>
    public static ModelConfig ReadConfig(string configJsonPath) => HfConfigReader.Read(configJsonPath);

    private static (ModelWeights Weights, bool Tied) Build(ModelConfig c, SafeTensorsCheckpoint ckpt)
    {
        const string Embed = "model.embed_tokens.weight", Head = "lm_head.weight";
        long qDim = (long)c.NumHeads * c.HeadDim, kvDim = (long)c.NumKvHeads * c.HeadDim;

        WeightTensor Get(string name, params long[] shape)
        {
            var t = ckpt.GetTensor(name);
            if (!t.Shape.SequenceEqual(shape))
                throw new ModelFormatException(ckpt.FileOf(name)?.Path ?? ckpt.Path,
                    $"tensor '{name}' has shape [{string.Join(", ", t.Shape)}] (ggml order), config needs [{string.Join(", ", shape)}]");
            return t;
        }
        WeightTensor? Optional(string name, bool wanted, params long[] shape) => wanted ? Get(name, shape) : null;

        // A tied checkpoint may store only one of the two (TinyStories-656K keeps only lm_head); use it for both.
        bool hasEmbed = ckpt.Has(Embed), hasHead = ckpt.Has(Head);
        if (!hasEmbed && !hasHead) throw new ModelFormatException(ckpt.Path, $"missing tensor '{Embed}' (and '{Head}')");
        var embedding = Get(hasEmbed ? Embed : Head, c.Dim, c.VocabSize);
        bool tied = c.TiedEmbeddings || !hasHead || !hasEmbed;
        var output = tied ? embedding : Get(Head, c.Dim, c.VocabSize);

        var layers = new LayerWeights[c.NumLayers];
        for (int i = 0; i < c.NumLayers; i++)
        {
            string p = $"model.layers.{i}.";
            if (ckpt.Has(p + "self_attn.o_proj.bias")) throw new ModelFormatException(ckpt.Path, $"tensor '{p}self_attn.o_proj.bias': output projection bias is not supported");
            layers[i] = new LayerWeights
            {
                AttnNorm = Get(p + "input_layernorm.weight", c.Dim),
                Wq = Get(p + "self_attn.q_proj.weight", c.Dim, qDim),
                Wk = Get(p + "self_attn.k_proj.weight", c.Dim, kvDim),
                Wv = Get(p + "self_attn.v_proj.weight", c.Dim, kvDim),
                Wo = Get(p + "self_attn.o_proj.weight", qDim, c.Dim),
                Bq = Optional(p + "self_attn.q_proj.bias", c.QkvBias, qDim),
                Bk = Optional(p + "self_attn.k_proj.bias", c.QkvBias, kvDim),
                Bv = Optional(p + "self_attn.v_proj.bias", c.QkvBias, kvDim),
                QNorm = Optional(p + "self_attn.q_norm.weight", c.QkNorm, c.HeadDim),
                KNorm = Optional(p + "self_attn.k_norm.weight", c.QkNorm, c.HeadDim),
                FfnNorm = Get(p + "post_attention_layernorm.weight", c.Dim),
                WGate = Get(p + "mlp.gate_proj.weight", c.Dim, c.FfnDim),
                WUp = Get(p + "mlp.up_proj.weight", c.Dim, c.FfnDim),
                WDown = Get(p + "mlp.down_proj.weight", c.FfnDim, c.Dim),
            };
        }
        var weights = new ModelWeights
        {
            TokenEmbedding = embedding,
            Layers = layers,
            OutputNorm = Get("model.norm.weight", c.Dim),
            Output = output,
        };
        return (weights, tied);
    }
}
