using Loom.Models.Architectures;

namespace Loom.Models.Formats.Gguf;

/// <summary>
/// Gemma 2 and Gemma 3's hyperparameters as llama.cpp reads them (llama-model.cpp, <c>LLM_ARCH_GEMMA2/3</c>), laid over
/// the Llama-family configuration <see cref="GgufModelLoader"/> read: embeddings scaled by sqrt(dim), NeoX RoPE, tied
/// embeddings, GeGLU, post-norms, the sliding window and its layer pattern, soft-caps and the query scale.
/// </summary>
internal static class GgufGemma
{
    public static bool Is(string arch) => arch is "gemma2" or "gemma3";

    public static ModelConfig Apply(GgufFile f, ModelConfig c)
    {
        string path = f.Path, arch = c.Architecture;
        // Gemma 2 defaults the window to 4096 when the key is absent; Gemma 3 requires it.
        long window = f.GetInteger($"{arch}.attention.sliding_window") ?? (arch == "gemma2" ? 4096
            : throw new ModelFormatException(path, $"missing metadata '{arch}.attention.sliding_window'"));
        if (window <= 0 || window > ModelLimits.MaxContext)
            throw new ModelFormatException(path, $"metadata '{arch}.attention.sliding_window' = {window} is out of range ({ModelLimits.Range(ModelLimits.MaxContext)})");
        float Cap(string key, double fallback)
        {
            double v = f.GetFloat($"{arch}.{key}") ?? fallback;
            if (!(v >= 0) || !double.IsFinite(v)) throw new ModelFormatException(path, $"metadata '{arch}.{key}' = {v} must be a finite non-negative number");
            return (float)v;
        }
        // Gemma 2 sees every other layer slide, starting with layer 0; Gemma 3 five local layers to one global.
        var sliding = Enumerable.Range(0, c.NumLayers).Select(l => arch == "gemma2" ? l % 2 == 0 : l % 6 < 5).ToArray();
        // llama.cpp keys the query scale (Gemma's query_pre_attn_scalar) to the 27B checkpoints by layer count: they
        // scale by 1/sqrt(dim/heads), every other size by 1/sqrt(head dim). llama.cpp refuses other layer counts for
        // gemma2; Loom takes them with the head-dim rule.
        bool big = c.NumLayers == (arch == "gemma2" ? 46 : 62);
        return c with
        {
            EmbeddingScale = MathF.Sqrt(c.Dim),
            QueryScale = 1.0f / MathF.Sqrt(big ? c.Dim / c.NumHeads : c.HeadDim),
            // Gemma 2 always caps attention (50 unless the file says); Gemma 3 never does, and caps logits only when the file says.
            AttnSoftcap = arch == "gemma2" ? Cap("attn_logit_softcapping", 50) : 0,
            FinalSoftcap = Cap("final_logit_softcapping", arch == "gemma2" ? 30 : 0),
            SlidingWindow = (int)window,
            SlidingLayers = sliding,
            SlidingRopeTheta = arch == "gemma3" ? 10000f : 0,
            PostNorms = true,
            Activation = FfnActivation.GeluTanh,
            RopeStyle = RopeStyle.NeoX,
            TiedEmbeddings = true,
            QkNorm = arch == "gemma3",
        };
    }
}
