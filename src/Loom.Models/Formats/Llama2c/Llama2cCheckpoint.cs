using Loom.Core.Tensors;
using Loom.Models.Architectures;

namespace Loom.Models.Formats.Llama2c;

/// <summary>
/// Loads karpathy llama2.c checkpoints: legacy v0 and export v1 (fp32, mapped in place) and export v2
/// (Q8_0 with per-group fp32 scales, dequantized to F32 at load). Tensors get GGUF names
/// (<c>token_embd.weight</c>, <c>blk.N.attn_q.weight</c>, ...) and ggml shape order.
/// </summary>
public static class Llama2cCheckpoint
{
    /// <summary>Reads <paramref name="binPath"/>; every size is checked against the file length before mapping.</summary>
    public static (ModelConfig Config, ModelWeights Weights) Load(string binPath)
    {
        long length;
        var head = new byte[Llama2cHeader.ExportHeaderBytes];
        int headLen;
        try
        {
            using var fs = new FileStream(binPath, FileMode.Open, FileAccess.Read, FileShare.Read);
            length = fs.Length;
            headLen = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ModelFormatException(binPath, $"cannot open: {e.Message}", e);
        }

        var h = Llama2cHeader.Parse(binPath, head.AsSpan(0, headLen));
        var layout = Llama2cLayout.Plan(binPath, h);
        if (layout.TotalBytes > length)
            throw new ModelFormatException(binPath, $"truncated: the header describes {layout.TotalBytes} bytes, the file has {length}");

        var config = new ModelConfig
        {
            Architecture = "llama",
            VocabSize = h.VocabSize,
            Dim = h.Dim,
            FfnDim = h.HiddenDim,
            NumLayers = h.Layers,
            NumHeads = h.Heads,
            NumKvHeads = h.KvHeads,
            HeadDim = h.HeadDim,
            ContextLength = h.SeqLen,
            RmsNormEps = 1e-5f,
            RopeTheta = 10000f,
            RopeDim = h.HeadDim,
            RopeStyle = RopeStyle.Interleaved,
            TiedEmbeddings = h.SharedClassifier,
        };
        config.Validate(binPath);

        var owners = new List<IDisposable>();
        try
        {
            var file = new MappedFile(binPath);
            owners.Add(file);
            if (file.Length != length) throw new ModelFormatException(binPath, "file changed while being opened");
            var tensors = new Dictionary<string, WeightTensor>(StringComparer.Ordinal);
            foreach (var t in layout.Tensors)
                tensors[t.Name] = t.GroupSize == 0
                    ? new WeightTensor(t.Name, GgmlType.F32, t.Shape, file.Pointer + (nint)t.Offset, t.Elements * 4)
                    : Llama2cQ8.Dequantize(file, t, owners);

            var embedding = tensors["token_embd.weight"];
            var weights = new ModelWeights
            {
                TokenEmbedding = embedding,
                Layers = Enumerable.Range(0, h.Layers).Select(l => new LayerWeights
                {
                    AttnNorm = tensors[$"blk.{l}.attn_norm.weight"],
                    Wq = tensors[$"blk.{l}.attn_q.weight"],
                    Wk = tensors[$"blk.{l}.attn_k.weight"],
                    Wv = tensors[$"blk.{l}.attn_v.weight"],
                    Wo = tensors[$"blk.{l}.attn_output.weight"],
                    FfnNorm = tensors[$"blk.{l}.ffn_norm.weight"],
                    WGate = tensors[$"blk.{l}.ffn_gate.weight"],
                    WUp = tensors[$"blk.{l}.ffn_up.weight"],
                    WDown = tensors[$"blk.{l}.ffn_down.weight"],
                }).ToArray(),
                OutputNorm = tensors["output_norm.weight"],
                Output = h.SharedClassifier ? embedding : tensors["output.weight"],
                Owners = owners,
            };
            return (config, weights);
        }
        catch (Exception e)
        {
            foreach (var o in owners) o.Dispose();
            if (e is IOException or UnauthorizedAccessException) throw new ModelFormatException(binPath, $"cannot map: {e.Message}", e);
            throw;
        }
    }
}
