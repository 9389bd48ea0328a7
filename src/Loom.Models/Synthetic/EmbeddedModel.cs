using System.Runtime.InteropServices;
using Loom.Core.Quantization;
using Loom.Core.Tensors;
using Loom.Models.Formats.Gguf;
using Loom.Models.Quantize;

namespace Loom.Models.Synthetic;

/// <summary>
/// Writes a model with a real checkpoint's shape whose outputs are those of a smaller trained llama: the small
/// model's weights sit zero-padded inside the large matrices and the extra layers are zero, so the residual stream's
/// extra dimensions stay zero and each extra layer adds nothing. A pass then costs what the large shape costs (the
/// kernels' work does not depend on the values) while the tokens are a trained model's, which is what measuring
/// speculative decoding needs: random weights accept almost nothing, and the small model alone costs almost nothing.
/// </summary>
/// <remarks>
/// The embedding is exact up to float rounding:
/// <list type="bullet">
/// <item>RMS norms average over the large width, so their weights are multiplied by √(d/D) and ε by d/D.</item>
/// <item>Head dim hd becomes HD (a multiple of it): RoPE pair j of a head moves to pair j·HD/hd, which turns at the
/// same frequency, and Q is multiplied by √(HD/hd) to undo the larger head's 1/√HD score scale.</item>
/// <item>Query head h of KV group k becomes head k·G + h mod g (G, g the two models' query heads per KV head), so
/// every query still meets its own keys; the padded heads' output columns are zero.</item>
/// </list>
/// The vocabulary, tokenizer and context length stay the small model's: the output matrix has the small vocabulary's
/// rows, not the shape's. Self-drafting from the first N layers means nothing on such a file: once N covers the
/// small model's layers, the draft is the target itself.
/// </remarks>
public static class EmbeddedModel
{
    /// <summary>
    /// Writes <paramref name="path"/>: <paramref name="sourcePath"/> (a dense llama GGUF, any tensor types) embedded
    /// in <paramref name="shape"/>, its weights typed as llama-quantize types them for <paramref name="fileType"/>.
    /// Throws <see cref="ArgumentException"/> when the shape cannot hold the model.
    /// </summary>
    public static void Write(string path, string sourcePath, SyntheticModelSpec shape, LlamaFileType fileType, bool pure = false, IProgress<WorkProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        using var src = GgufFile.Open(sourcePath);
        var m = Mapping.Of(src, shape);
        bool untied = src.HasTensor("output.weight");
        var rules = new TensorTypeRules(fileType, new QuantizationModelInfo("llama", shape.NumLayers, shape.NumHeads, shape.NumKvHeads, 0, untied, shape.NumLayers), pure);
        var w = new GgufWriter();
        AddMetadata(w, src, m, shape, fileType);

        long total = 0, done = 0;
        void Add(string name, long[] shape2, Func<float[]> build)
        {
            var type = shape2.Length == 1 ? GgmlType.F32 : rules.Choose(name, shape2, GgmlType.F32);
            long cols = shape2[0], rows = shape2.Length == 1 ? 1 : shape2[1];
            total += TypeTraits.RowSize(type, cols) * rows;
            w.AddTensor(name, type, shape2, stream =>
            {
                var f = build();
                var bytes = new byte[TypeTraits.RowSize(type, cols) * rows];
                if (type == GgmlType.F32) MemoryMarshal.AsBytes(f.AsSpan()).CopyTo(bytes);
                else WeightQuantizer.Quantize(type, f, bytes);
                stream.Write(bytes);
                done += bytes.Length;
                progress?.Report(new WorkProgress(done, total, WorkProgress.Bytes, name));
            });
        }

        long D = shape.Dim, V = m.Vocab;
        Add("token_embd.weight", [D, V], () => m.Matrix(src, "token_embd.weight", D, V, i => i, c => c));
        Add("output_norm.weight", [D], () => m.Norm(src, "output_norm.weight"));
        if (untied) Add("output.weight", [D, V], () => m.Matrix(src, "output.weight", D, V, i => i, c => c));
        long q = (long)shape.NumHeads * m.HD, kv = (long)shape.NumKvHeads * m.HD, ff = shape.FfnDim;
        static float[] Zero(long n) => new float[n];
        for (int l = 0; l < shape.NumLayers; l++)
        {
            string p = $"blk.{l}.";
            bool real = l < m.Layers;
            Add(p + "attn_norm.weight", [D], () => real ? m.Norm(src, p + "attn_norm.weight") : Zero(D));
            Add(p + "attn_q.weight", [D, q], () => real ? m.Matrix(src, p + "attn_q.weight", D, q, m.QueryRow, c => c, m.QueryScale) : Zero(D * q));
            Add(p + "attn_k.weight", [D, kv], () => real ? m.Matrix(src, p + "attn_k.weight", D, kv, m.KeyRow, c => c) : Zero(D * kv));
            Add(p + "attn_v.weight", [D, kv], () => real ? m.Matrix(src, p + "attn_v.weight", D, kv, m.ValueRow, c => c) : Zero(D * kv));
            Add(p + "attn_output.weight", [q, D], () => real ? m.Matrix(src, p + "attn_output.weight", q, D, r => r, m.OutputColumn) : Zero(q * D));
            Add(p + "ffn_norm.weight", [D], () => real ? m.Norm(src, p + "ffn_norm.weight") : Zero(D));
            Add(p + "ffn_gate.weight", [D, ff], () => real ? m.Matrix(src, p + "ffn_gate.weight", D, ff, r => r, c => c) : Zero(D * ff));
            Add(p + "ffn_up.weight", [D, ff], () => real ? m.Matrix(src, p + "ffn_up.weight", D, ff, r => r, c => c) : Zero(D * ff));
            Add(p + "ffn_down.weight", [ff, D], () => real ? m.Matrix(src, p + "ffn_down.weight", ff, D, r => r, c => c) : Zero(ff * D));
        }
        w.Write(path);
    }

    private static void AddMetadata(GgufWriter w, GgufFile src, Mapping m, SyntheticModelSpec shape, LlamaFileType fileType)
    {
        // Everything the small model says (tokenizer, template, context) carries over; the shape keys are the large ones.
        var replaced = new HashSet<string>(StringComparer.Ordinal)
        {
            "general.name", "general.file_type", "llama.block_count", "llama.embedding_length", "llama.feed_forward_length",
            "llama.attention.head_count", "llama.attention.head_count_kv", "llama.attention.layer_norm_rms_epsilon",
            "llama.attention.key_length", "llama.attention.value_length", "llama.rope.dimension_count", GgufFile.AlignmentKey,
        };
        foreach (var (key, value) in src.Metadata)
            if (!replaced.Contains(key)) w.Add(key, value);
        w.Add("general.name", $"{shape.Name} embedding {src.GetString("general.name") ?? Path.GetFileNameWithoutExtension(src.Path)}");
        w.Add("general.file_type", (uint)fileType);
        w.Add("llama.block_count", (uint)shape.NumLayers);
        w.Add("llama.embedding_length", (uint)shape.Dim);
        w.Add("llama.feed_forward_length", (uint)shape.FfnDim);
        w.Add("llama.attention.head_count", (uint)shape.NumHeads);
        w.Add("llama.attention.head_count_kv", (uint)shape.NumKvHeads);
        w.Add("llama.attention.layer_norm_rms_epsilon", (float)(m.Eps * m.Width / shape.Dim));
        w.Add("llama.rope.dimension_count", (uint)m.HD);
        if (m.HD * shape.NumHeads != shape.Dim)
        {
            w.Add("llama.attention.key_length", (uint)m.HD);
            w.Add("llama.attention.value_length", (uint)m.HD);
        }
    }

    /// <summary>Where each of the small model's rows and columns goes in the large one.</summary>
    private sealed class Mapping
    {
        public int Width, LargeWidth, Layers, Heads, KvHeads, Hd, HD, Ffn, G, GSmall;
        public long Vocab;
        public double Eps;
        public float QueryScale => MathF.Sqrt((float)HD / Hd);

        public static Mapping Of(GgufFile src, SyntheticModelSpec shape)
        {
            string arch = src.GetString("general.architecture") ?? "";
            if (arch != "llama") throw new ArgumentException($"{src.Path}: only a llama model can be embedded (this one is '{arch}')");
            if ((src.GetInt32("llama.expert_count") ?? 0) > 0) throw new ArgumentException($"{src.Path}: a mixture of experts cannot be embedded");
            if (src.HasTensor("rope_freqs.weight")) throw new ArgumentException($"{src.Path}: per-dimension rope factors (rope_freqs) cannot be embedded");
            if (shape.Architecture != "llama" || shape.IsMoe || shape.Mla is not null)
                throw new ArgumentException($"shape {shape.Name}: only a dense llama shape can hold an embedded model");
            int Need(string key) => src.GetInt32(key) ?? throw new ArgumentException($"{src.Path}: missing {key}");
            var m = new Mapping
            {
                Width = Need("llama.embedding_length"), Layers = Need("llama.block_count"), Heads = Need("llama.attention.head_count"),
                Ffn = Need("llama.feed_forward_length"), Eps = src.GetFloat("llama.attention.layer_norm_rms_epsilon") ?? 1e-5,
                HD = shape.EffectiveHeadDim, LargeWidth = shape.Dim,
            };
            m.KvHeads = src.GetInt32("llama.attention.head_count_kv") ?? m.Heads;
            m.Hd = src.GetInt32("llama.attention.key_length") ?? m.Width / m.Heads;
            m.Vocab = (src.FindTensor("token_embd.weight") ?? throw new ArgumentException($"{src.Path}: missing token_embd.weight")).Shape[1];
            int ropeDims = src.GetInt32("llama.rope.dimension_count") ?? m.Hd;
            if (ropeDims != m.Hd || (src.GetInt32("llama.attention.value_length") ?? m.Hd) != m.Hd)
                throw new ArgumentException($"{src.Path}: partial rotary or a value width unlike the key width cannot be embedded");
            if (m.KvHeads <= 0 || m.Heads % m.KvHeads != 0) throw new ArgumentException($"{src.Path}: bad head counts {m.Heads}/{m.KvHeads}");
            m.GSmall = m.Heads / m.KvHeads;
            m.G = shape.NumHeads / shape.NumKvHeads;
            void Fit(bool ok, string what) { if (!ok) throw new ArgumentException($"shape {shape.Name} cannot hold {Path.GetFileName(src.Path)}: {what}"); }
            Fit(shape.Dim >= m.Width, $"width {shape.Dim} < {m.Width}");
            Fit(shape.NumLayers >= m.Layers, $"layers {shape.NumLayers} < {m.Layers}");
            Fit(shape.FfnDim >= m.Ffn, $"ffn {shape.FfnDim} < {m.Ffn}");
            Fit(shape.NumKvHeads >= m.KvHeads, $"KV heads {shape.NumKvHeads} < {m.KvHeads}");
            Fit(m.G >= m.GSmall, $"query heads per KV head {m.G} < {m.GSmall}");
            Fit(m.HD % m.Hd == 0, $"head dim {m.HD} is not a multiple of {m.Hd} (RoPE frequencies would not line up)");
            return m;
        }

        private int QueryHead(int h) => h / GSmall * G + h % GSmall;
        private int RopeIndex(int i) => i / 2 * (HD / Hd) * 2 + i % 2;
        public long QueryRow(long r) => (long)QueryHead((int)(r / Hd)) * HD + RopeIndex((int)(r % Hd));
        public long KeyRow(long r) => r / Hd * HD + RopeIndex((int)(r % Hd));
        public long ValueRow(long r) => r / Hd * HD + r % Hd;
        public long OutputColumn(long c) => (long)QueryHead((int)(c / Hd)) * HD + c % Hd;

        public float[] Norm(GgufFile src, string name)
        {
            var small = src.GetTensor(name).ToFloats();
            var f = new float[LargeWidth];
            float s = MathF.Sqrt((float)Width / LargeWidth);
            for (int i = 0; i < small.Length; i++) f[i] = small[i] * s;
            return f;
        }

        /// <summary>A [cols, rows] large matrix (ggml order) with the small one's element (r, c) at (row(r), col(c)).</summary>
        public float[] Matrix(GgufFile src, string name, long cols, long rows, Func<long, long> row, Func<long, long> col, float scale = 1f)
        {
            var info = src.FindTensor(name) ?? throw new ArgumentException($"{src.Path}: missing {name}");
            long sc = info.Shape[0], sr = info.Shape.Length > 1 ? info.Shape[1] : 1;
            var small = src.GetTensor(name).ToFloats();
            var f = new float[cols * rows];
            for (long r = 0; r < sr; r++)
            {
                long dr = row(r);
                for (long c = 0; c < sc; c++) f[dr * cols + col(c)] = small[r * sc + c] * scale;
            }
            return f;
        }

    }
}
