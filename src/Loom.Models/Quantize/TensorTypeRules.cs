using System.Globalization;
using Loom.Core.Tensors;

namespace Loom.Models.Quantize;

/// <summary>
/// Which type each tensor gets when a model is quantized to a <see cref="LlamaFileType"/>, following llama.cpp's
/// llama-quantize (its llama_tensor_get_type and the checks around it) so that a file Loom writes has the same tensor
/// types as one llama-quantize writes from the same input without an importance matrix.
/// </summary>
/// <remarks>
/// llama.cpp walks tensors in layer order and counts attn_v and ffn_down tensors as it goes; for every model with one
/// of each per layer those counts are the layer index, which is what this reads from the <c>blk.N.</c> name, so the
/// choice for a tensor does not depend on the order it is asked in.
/// </remarks>
public sealed class TensorTypeRules(LlamaFileType fileType, QuantizationModelInfo model, bool pure = false)
{
    public LlamaFileType FileType { get; } = fileType;
    public QuantizationModelInfo Model { get; } = model;
    /// <summary>When true every quantized tensor gets the default type (llama-quantize's <c>--pure</c>).</summary>
    public bool Pure { get; } = pure;

    /// <summary>
    /// True when llama-quantize would convert this tensor at all: 2-D or larger weights, except norms and a few small
    /// special tensors. Everything else (1-D norms and biases) is copied unchanged.
    /// </summary>
    public static bool IsQuantizable(string name, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (!name.EndsWith("weight", StringComparison.Ordinal) || Dims(shape) < 2) return false;
        string[] never =
        [
            "_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d.weight", "time_mix_first.weight", "time_mix_w1.weight",
            "time_mix_w2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
            "attn_rel_b.weight",
        ];
        foreach (var n in never) if (name.Contains(n, StringComparison.Ordinal)) return false;
        return name is not ("position_embd.weight" or "token_types.weight");
    }

    /// <summary>
    /// The type tensor <paramref name="name"/> (ggml shape <paramref name="shape"/>, now of <paramref name="current"/>)
    /// gets in the output file. Equal to <paramref name="current"/> when the tensor is copied unchanged. Throws
    /// <see cref="NotSupportedException"/> when llama.cpp would pick a type Loom cannot write (IQ4_NL) and
    /// <see cref="ArgumentException"/> when the row length fits no type (llama.cpp fails there too).
    /// </summary>
    public GgmlType Choose(string name, long[] shape, GgmlType current)
    {
        if (!IsQuantizable(name, shape)) return current;
        var type = LlamaFileTypes.DefaultType(FileType);
        if (!Pure && LlamaFileTypes.IsQuantized(type)) type = MixType(name, shape, type);
        if (shape[0] % TypeTraits.BlockSize(type) != 0)
            throw new ArgumentException($"tensor '{name}' rows of {shape[0]} are not a multiple of the {type} block size {TypeTraits.BlockSize(type)}");
        return type;
    }

    private GgmlType MixType(string name, long[] shape, GgmlType type)
    {
        var f = FileType;
        var m = Model;
        bool falcon = m.Architecture == "falcon";
        int layer = LayerOf(name);
        bool Has(string part) => name.Contains(part, StringComparison.Ordinal);

        if (name == "output.weight" || (!m.HasOutput && name == "token_embd.weight"))
        {
            // The classifier (or the embeddings that double as it) gets Q6_K unless the mix is Q8_0 already.
            if (falcon || shape[0] % TypeTraits.BlockSize(type) != 0) type = GgmlType.Q8_0;
            else if (type != GgmlType.Q8_0) type = GgmlType.Q6_K;
        }
        else if (name == "token_embd.weight")
        {
            // Only the IQ and TQ mixes, which Loom does not write, treat untied embeddings specially.
        }
        else if (Has("attn_v.weight"))
        {
            if (f == LlamaFileType.Q2_K) type = m.Gqa >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K;
            else if (f == LlamaFileType.Q3_K_M) type = layer < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
            else if (f == LlamaFileType.Q3_K_L) type = GgmlType.Q5_K;
            else if (f is LlamaFileType.Q4_K_M or LlamaFileType.Q5_K_M && UseMoreBits(layer, m.NumAttentionV)) type = GgmlType.Q6_K;
            else if (f == LlamaFileType.Q4_K_S && layer < 4) type = GgmlType.Q5_K;
            // A 70B's attn_v is eight times smaller than attn_q (8 heads share it): more bits cost almost nothing.
            if (m.Is70B && type is GgmlType.Q3_K or GgmlType.Q4_K) type = GgmlType.Q5_K;
            if (m.NumExperts == 8) type = GgmlType.Q8_0;
        }
        else if (Has("attn_k.weight"))
        {
            if (m.NumExperts == 8) type = GgmlType.Q8_0;
        }
        else if (Has("ffn_down"))
        {
            int n = m.NumLayers;
            if (f == LlamaFileType.Q2_K) type = GgmlType.Q3_K;
            else if (f == LlamaFileType.Q3_K_M)
                type = layer < n / 16 ? GgmlType.Q5_K : !falcon || UseMoreBits(layer, n) ? GgmlType.Q4_K : GgmlType.Q3_K;
            else if (f == LlamaFileType.Q3_K_L) type = falcon ? GgmlType.Q4_K : GgmlType.Q5_K;
            else if (f == LlamaFileType.Q4_K_M)
            {
                if (falcon) type = layer < n / 16 ? GgmlType.Q6_K : UseMoreBits(layer, n) ? GgmlType.Q5_K : GgmlType.Q4_K;
                else if (UseMoreBits(layer, n)) type = GgmlType.Q6_K;
            }
            else if (f == LlamaFileType.Q5_K_M && UseMoreBits(layer, n)) type = GgmlType.Q6_K;
            else if (f == LlamaFileType.Q4_K_S && !falcon && layer < n / 8) type = GgmlType.Q5_K;
        }
        else if (Has("attn_output.weight"))
        {
            if (falcon) { if (f == LlamaFileType.Q3_K_L) type = GgmlType.Q4_K; }
            else if (m.NumExperts == 8)
            {
                if (f is LlamaFileType.Q2_K or LlamaFileType.Q3_K_S or LlamaFileType.Q3_K_M or LlamaFileType.Q4_K_S or LlamaFileType.Q4_K_M)
                    type = GgmlType.Q5_K;
            }
            else if (f == LlamaFileType.Q2_K) type = GgmlType.Q3_K;
            else if (f == LlamaFileType.Q3_K_M) type = GgmlType.Q4_K;
            else if (f == LlamaFileType.Q3_K_L) type = GgmlType.Q5_K;
        }
        else if (Has("attn_qkv.weight"))
        {
            if (f is LlamaFileType.Q3_K_M or LlamaFileType.Q3_K_L) type = GgmlType.Q4_K;
            else if (f == LlamaFileType.Q4_K_M) type = GgmlType.Q5_K;
            else if (f == LlamaFileType.Q5_K_M) type = GgmlType.Q6_K;
        }
        return Fallback(name, shape, type);
    }

    /// <summary>A type whose blocks do not divide the row length is replaced by a 32-element type of similar size.</summary>
    private static GgmlType Fallback(string name, long[] shape, GgmlType type)
    {
        long nx = shape[0];
        if (nx % TypeTraits.BlockSize(type) == 0) return type;
        var fallback = type switch
        {
            GgmlType.Q4_K => GgmlType.Q5_0,
            GgmlType.Q5_K => GgmlType.Q5_1,
            GgmlType.Q6_K => GgmlType.Q8_0,
            GgmlType.Q2_K or GgmlType.Q3_K => throw new NotSupportedException(
                $"tensor '{name}' rows of {nx} need llama.cpp's IQ4_NL fallback for {type}, which Loom cannot write"),
            _ => throw new ArgumentException($"tensor '{name}' rows of {nx} are not a multiple of the {type} block size {TypeTraits.BlockSize(type)}"),
        };
        return nx % TypeTraits.BlockSize(fallback) == 0 ? fallback : GgmlType.F16;
    }

    /// <summary>llama.cpp's use_more_bits: the first and last eighth of the layers, and every third one between.</summary>
    public static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    /// <summary>N of a <c>blk.N.</c> tensor name; 0 for tensors outside the blocks.</summary>
    public static int LayerOf(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return 0;
        int end = name.IndexOf('.', 4);
        return end > 4 && int.TryParse(name.AsSpan(4, end - 4), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : 0;
    }

    /// <summary>Dimensions not counting trailing ones (ggml_n_dims): a [4096, 1] tensor is 1-D.</summary>
    private static int Dims(long[] shape)
    {
        int d = shape.Length;
        while (d > 1 && shape[d - 1] == 1) d--;
        return d;
    }
}
