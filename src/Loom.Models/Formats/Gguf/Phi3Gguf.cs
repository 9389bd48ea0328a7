using System.Runtime.InteropServices;
using Loom.Core.Tensors;
using Loom.Models.Architectures;

namespace Loom.Models.Formats.Gguf;

/// <summary>
/// What the <c>phi3</c> architecture adds to a Llama-family GGUF, as llama.cpp (c392e50) reads it: fused tensors
/// (<c>attn_qkv</c> holding Q, K and V's rows one after another; <c>ffn_up</c> holding the gate's rows then the up
/// projection's), LongRoPE (<c>rope_factors_long</c>/<c>rope_factors_short</c>, <c>rope.scaling.attn_factor</c>,
/// <c>rope.scaling.original_context_length</c>) and a sliding window. The fused tensors become row views of the
/// mapped file, so the ordinary Q/K/V and gate/up kernels (and their packed layouts) run on them unchanged.
/// </summary>
internal static class Phi3Gguf
{
    public const string Arch = "phi3";

    /// <summary>The phi3 hyperparameters the generic reader does not know, added to <paramref name="c"/>.</summary>
    public static ModelConfig Configure(GgufFile f, ModelConfig c)
    {
        string path = f.Path;
        if (!f.HasTensor("output.weight")) throw new ModelFormatException(path, "phi3 needs tensor 'output.weight' (its embeddings are not tied)");

        LongRope? longRope = null;
        bool hasLong = f.HasTensor("rope_factors_long.weight"), hasShort = f.HasTensor("rope_factors_short.weight");
        if (hasLong != hasShort)
            throw new ModelFormatException(path, $"tensor '{(hasLong ? "rope_factors_short.weight" : "rope_factors_long.weight")}' is missing: LongRoPE needs both factor sets");
        if (hasLong)
        {
            long orig = f.GetInteger($"{Arch}.rope.scaling.original_context_length") ?? c.ContextLength;
            if (orig <= 0 || orig > ModelLimits.MaxContext)
                throw new ModelFormatException(path, $"metadata '{Arch}.rope.scaling.original_context_length' = {orig} is out of range ({ModelLimits.Range(ModelLimits.MaxContext)})");
            longRope = new LongRope(Factors(f, "rope_factors_long.weight", c.RopeDim), Factors(f, "rope_factors_short.weight", c.RopeDim), (int)orig);
        }
        double attnFactor = f.GetFloat($"{Arch}.rope.scaling.attn_factor") ?? 1.0;
        if (!(attnFactor > 0) || !double.IsFinite(attnFactor))
            throw new ModelFormatException(path, $"metadata '{Arch}.rope.scaling.attn_factor' = {attnFactor} must be positive and finite");

        int window = SlidingWindow(f, c);
        // build_phi3 scales Q by 1/√head dim after RoPE and runs attention with a scale of 1. Its window masks keys
        // with pos - key_pos >= window on every layer, which is what a sliding layer reads here.
        return c with
        {
            LongRope = longRope, RopeAttnFactor = (float)attnFactor,
            SlidingWindow = window, SlidingLayers = window > 0 ? Enumerable.Repeat(true, c.NumLayers).ToArray() : null,
            QueryScale = 1.0f / MathF.Sqrt(c.HeadDim),
        };
    }

    /// <summary>
    /// <c>phi3.attention.sliding_window</c>; when absent, llama.cpp's defaults for the Phi-3 files converted before the
    /// key existed (mini and medium 4k: 2047; mini 128k: 262144; medium 128k: 131072), and otherwise an error, as there.
    /// 0 (Phi-4) means no window.
    /// </summary>
    private static int SlidingWindow(GgufFile f, ModelConfig c)
    {
        string key = $"{Arch}.attention.sliding_window";
        if (f.GetInteger(key) is { } w)
        {
            if (w < 0 || w > uint.MaxValue) throw new ModelFormatException(f.Path, $"metadata '{key}' = {w} is out of range (0 to {uint.MaxValue})");
            return (int)Math.Min(w, int.MaxValue);
        }
        long train = f.GetInteger($"{Arch}.context_length") ?? c.ContextLength;
        if (c.NumLayers is 32 or 40 && train == 4096) return 2047;
        if (c.NumLayers == 32 && c.NumKvHeads == 32 && train == 131072) return 262144;
        if (c.NumLayers == 40 && train == 131072) return 131072;
        throw new ModelFormatException(f.Path, $"missing metadata '{key}' (phi3 files need it unless they are a known Phi-3 shape)");
    }

    private static float[] Factors(GgufFile f, string name, int ropeDim)
    {
        var info = f.FindTensor(name)!;
        long n = info.Shape.Aggregate(1L, (a, b) => a * b);
        if (info.Type != GgmlType.F32 || n != ropeDim / 2 || info.Shape[0] != n)
            throw new ModelFormatException(f.Path, $"tensor '{name}' is {info.Type} [{string.Join(", ", info.Shape)}], expected F32 [{ropeDim / 2}] (rope dim / 2)");
        var values = MemoryMarshal.Cast<byte, float>(f.GetTensor(name).Bytes).ToArray();
        foreach (float v in values)
            if (!(v > 0) || !float.IsFinite(v)) throw new ModelFormatException(f.Path, $"tensor '{name}' holds {v}; rope factors must be positive and finite");
        return values;
    }

    /// <summary>
    /// Layer <paramref name="i"/>: Q/K/V as row views of <c>attn_qkv</c> (or, as llama.cpp's graph also allows, separate
    /// <c>attn_q</c>/<c>attn_k</c>/<c>attn_v</c>), and gate/up as the two halves of <c>ffn_up</c>.
    /// </summary>
    public static LayerWeights Layer(GgufFile f, ModelConfig c, int i)
    {
        string p = $"blk.{i}.";
        int qDim = c.NumHeads * c.HeadDim, kvDim = c.NumKvHeads * c.HeadDim;
        WeightTensor wq, wk, wv;
        if (f.HasTensor(p + "attn_qkv.weight"))
        {
            var qkv = Matrix(f, p + "attn_qkv.weight", c.Dim, (long)qDim + 2L * kvDim, $"{c.NumHeads} heads and 2 × {c.NumKvHeads} KV heads of {c.HeadDim}");
            wq = Rows(qkv, 0, qDim); wk = Rows(qkv, qDim, kvDim); wv = Rows(qkv, qDim + kvDim, kvDim);
        }
        else if (f.HasTensor(p + "attn_q.weight"))
        {
            wq = f.GetTensor(p + "attn_q.weight"); wk = f.GetTensor(p + "attn_k.weight"); wv = f.GetTensor(p + "attn_v.weight");
        }
        else throw new ModelFormatException(f.Path, $"missing tensor '{p}attn_qkv.weight'");
        var up = Matrix(f, p + "ffn_up.weight", c.Dim, 2L * c.FfnDim, $"gate and up halves of '{Arch}.feed_forward_length' = {c.FfnDim}");
        return new LayerWeights
        {
            AttnNorm = f.GetTensor(p + "attn_norm.weight"),
            Wq = wq, Wk = wk, Wv = wv,
            Wo = f.GetTensor(p + "attn_output.weight"),
            FfnNorm = f.GetTensor(p + "ffn_norm.weight"),
            WGate = Rows(up, 0, c.FfnDim),
            WUp = Rows(up, c.FfnDim, c.FfnDim),
            WDown = f.GetTensor(p + "ffn_down.weight"),
        };
    }

    private static WeightTensor Matrix(GgufFile f, string name, long cols, long rows, string what)
    {
        var t = f.GetTensor(name);
        int rank = t.Shape.Length;
        while (rank > 2 && t.Shape[rank - 1] == 1) rank--;
        if (rank != 2 || t.Shape[0] != cols || t.Shape[1] != rows)
            throw new ModelFormatException(f.Path, $"tensor '{name}' has shape [{string.Join(", ", t.Shape)}], expected [{cols}, {rows}] ({what})");
        return t;
    }

    /// <summary>Rows [<paramref name="first"/>, first + count) of a matrix, in place: a view, not a copy.</summary>
    private static WeightTensor Rows(WeightTensor m, int first, int count) =>
        new($"{m.Name}[{first}:{first + count}]", m.Type, [m.Shape[0], count], m.Data + (nint)(first * m.RowBytes), count * m.RowBytes);
}
