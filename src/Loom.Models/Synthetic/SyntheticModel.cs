using System.Runtime.InteropServices;
using System.Text;
using Loom.Core.Quantization;
using Loom.Core.Tensors;
using Loom.Models.Formats.Gguf;
using Loom.Models.Quantize;

namespace Loom.Models.Synthetic;

/// <summary>
/// Writes a random-weight Llama-family GGUF laid out exactly as llama.cpp's converter lays out a real one
/// (same metadata keys and types, same tensor names and shapes), so both llama.cpp and Loom can load it.
/// Weights come from a seeded generator, per tensor, so a tensor's values depend only on the seed and its name.
/// The file is streamed tensor by tensor in small chunks; a multi-GB model never sits in memory.
/// </summary>
public static class SyntheticModel
{
    /// <summary>Floats generated and converted per chunk.</summary>
    private const int ChunkElements = 1 << 16;

    /// <summary>
    /// Writes the model to <paramref name="path"/>. Matrices (and token_embd) use <paramref name="matrixType"/>; norms and
    /// biases are F32. Matrix weights are approximately N(0, 1/fan_in) (standard deviation 1/sqrt(row length)), so
    /// activations stay O(1); norm weights are 1 plus small noise. Throws <see cref="ArgumentException"/> when the spec
    /// does not fit the type (see <see cref="SyntheticModelSpec.Validate"/>) and <see cref="NotSupportedException"/>
    /// when <see cref="Quants.Quantize"/> cannot produce the type yet. <paramref name="progress"/> hears the bytes of
    /// tensor data written.
    /// </summary>
    public static void Write(string path, SyntheticModelSpec spec, GgmlType matrixType, int seed = 0, IProgress<WorkProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate(matrixType);
        Quants.Quantize(matrixType, new float[TypeTraits.BlockSize(matrixType)], new byte[TypeTraits.TypeSize(matrixType)]);
        var w = new GgufWriter();
        AddMetadata(w, spec, FileType(matrixType));
        AddTensors(w, spec, (_, _) => matrixType, seed, progress);
        w.Write(path);
    }

    /// <summary>
    /// Writes the model as llama-quantize would write it from an F32 original with <paramref name="fileType"/>: each
    /// weight gets the type <see cref="TensorTypeRules"/> chooses (so Q4_K_M gives attn_v and ffn_down Q6_K in some
    /// layers, and the classifier Q6_K), or the mix's default type everywhere when <paramref name="pure"/>. Norms and
    /// biases are F32. The weights are the same values <see cref="Write(string, SyntheticModelSpec, GgmlType, int, IProgress{WorkProgress})"/>
    /// writes for the same seed, before quantization. <paramref name="progress"/> hears the bytes of tensor data written.
    /// </summary>
    public static void Write(string path, SyntheticModelSpec spec, LlamaFileType fileType, int seed = 0, bool pure = false, IProgress<WorkProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate(GgmlType.F32);
        var info = new QuantizationModelInfo(spec.Architecture, spec.NumLayers, spec.NumHeads, spec.NumKvHeads, spec.ExpertCount, !spec.TiedEmbeddings, spec.NumLayers);
        var rules = new TensorTypeRules(fileType, info, pure);
        var w = new GgufWriter();
        AddMetadata(w, spec, (int)fileType);
        AddTensors(w, spec, (name, shape) => rules.Choose(name, shape, GgmlType.F32), seed, progress);
        w.Write(path);
    }

    /// <summary>llama.cpp's <c>general.file_type</c> for a model whose matrices are <paramref name="type"/>; -1 if none.</summary>
    public static int FileType(GgmlType type) => type switch
    {
        GgmlType.F32 => 0, GgmlType.F16 => 1, GgmlType.Q4_0 => 2, GgmlType.Q4_1 => 3, GgmlType.Q8_0 => 7,
        GgmlType.Q5_0 => 8, GgmlType.Q5_1 => 9, GgmlType.Q2_K => 10, GgmlType.Q3_K => 11, GgmlType.Q4_K => 14,
        GgmlType.Q5_K => 16, GgmlType.Q6_K => 18, GgmlType.BF16 => 32,
        _ => -1,
    };

    private static void AddMetadata(GgufWriter w, SyntheticModelSpec s, int fileType)
    {
        string a = s.Architecture;
        int headDim = s.EffectiveHeadDim;
        w.Add("general.architecture", a);
        w.Add("general.name", s.Name);
        w.Add($"{a}.block_count", (uint)s.NumLayers);
        w.Add($"{a}.context_length", (uint)s.ContextLength);
        w.Add($"{a}.embedding_length", (uint)s.Dim);
        w.Add($"{a}.feed_forward_length", (uint)s.FfnDim);
        w.Add($"{a}.attention.head_count", (uint)s.NumHeads);
        w.Add($"{a}.attention.head_count_kv", (uint)s.NumKvHeads);
        w.Add($"{a}.rope.freq_base", s.RopeTheta);
        w.Add($"{a}.attention.layer_norm_rms_epsilon", s.RmsNormEps);
        if (headDim * s.NumHeads != s.Dim && s.Mla is null)
        {
            w.Add($"{a}.attention.key_length", (uint)headDim);
            w.Add($"{a}.attention.value_length", (uint)headDim);
        }
        w.Add("general.file_type", (uint)fileType);
        w.Add($"{a}.vocab_size", (uint)s.VocabSize);
        w.Add($"{a}.rope.dimension_count", (uint)(s.Mla?.QkRopeDim ?? headDim));
        if (s.Mla is { } m) AddDeepseek2Metadata(w, s, m);
        if (s.Phi3) SyntheticPhi3.AddMetadata(w, s);
        if (s.IsGemma)
        {
            w.Add($"{a}.attention.sliding_window", (uint)s.SlidingWindow);
            if (s.AttnSoftcap > 0) w.Add($"{a}.attn_logit_softcapping", s.AttnSoftcap);
            if (s.FinalSoftcap > 0) w.Add($"{a}.final_logit_softcapping", s.FinalSoftcap);
        }
        if (s.IsMoe)
        {
            w.Add($"{a}.expert_count", (uint)s.ExpertCount);
            w.Add($"{a}.expert_used_count", (uint)s.ExpertUsedCount);
            if (a is "qwen2moe" or "qwen3moe") w.Add($"{a}.expert_feed_forward_length", (uint)s.EffectiveExpertFfnDim);
            if (a == "qwen2moe") w.Add($"{a}.expert_shared_feed_forward_length", (uint)s.SharedExpertFfnDim);
        }

        var (tokens, scores, types) = SyntheticModelVocab.Build(s.VocabSize);
        if (s.Phi3) SyntheticPhi3.AddSpecialTokens(tokens, scores, types);
        w.Add("tokenizer.ggml.model", "llama");
        w.Add("tokenizer.ggml.pre", "default");
        w.Add("tokenizer.ggml.tokens", tokens);
        w.Add("tokenizer.ggml.scores", scores);
        w.Add("tokenizer.ggml.token_type", types);
        w.Add("tokenizer.ggml.bos_token_id", (uint)SyntheticModelVocab.BosId);
        w.Add("tokenizer.ggml.eos_token_id", (uint)SyntheticModelVocab.EosId);
        w.Add("tokenizer.ggml.unknown_token_id", (uint)SyntheticModelVocab.UnkId);
        w.Add("tokenizer.ggml.add_bos_token", true);
        w.Add("tokenizer.ggml.add_eos_token", false);
        if (s.ChatTemplate is not null) w.Add("tokenizer.chat_template", s.ChatTemplate);
        w.Add("general.quantization_version", 2u);
    }

    private static void AddDeepseek2Metadata(GgufWriter w, SyntheticModelSpec s, SyntheticMlaSpec m)
    {
        const string a = "deepseek2";
        w.Add($"{a}.attention.key_length", (uint)m.HeadDim);
        w.Add($"{a}.attention.value_length", (uint)m.VHeadDim);
        w.Add($"{a}.attention.kv_lora_rank", (uint)m.KvLoraRank);
        if (m.QLoraRank > 0) w.Add($"{a}.attention.q_lora_rank", (uint)m.QLoraRank);
        w.Add($"{a}.leading_dense_block_count", (uint)m.LeadingDenseLayers);
        w.Add($"{a}.expert_feed_forward_length", (uint)s.EffectiveExpertFfnDim);
        w.Add($"{a}.expert_shared_count", (uint)m.SharedExperts);
        w.Add($"{a}.expert_weights_scale", m.WeightsScale);
        w.Add($"{a}.expert_weights_norm", m.WeightsNorm);
        w.Add($"{a}.expert_gating_func", (uint)m.GatingFunc);
        if (m.ExpertGroups > 0)
        {
            w.Add($"{a}.expert_group_count", (uint)m.ExpertGroups);
            w.Add($"{a}.expert_group_used_count", (uint)m.ExpertGroupsUsed);
        }
        if (m.YarnFactor > 0)
        {
            w.Add($"{a}.rope.scaling.type", "yarn");
            w.Add($"{a}.rope.scaling.factor", m.YarnFactor);
            w.Add($"{a}.rope.scaling.original_context_length", (uint)m.YarnOrigContext);
        }
        w.Add($"{a}.rope.scaling.yarn_log_multiplier", m.YarnLogMultiplier);
    }

    private static void AddTensors(GgufWriter w, SyntheticModelSpec s, Func<string, long[], GgmlType> matrixType, int seed, IProgress<WorkProgress>? progress)
    {
        long dim = s.Dim, ffn = s.FfnDim, hd = s.EffectiveHeadDim, q = s.NumHeads * hd, kv = s.NumKvHeads * hd;
        var scratch = new Scratch(progress); // tensors are written one after another, so they share one pair of buffers
        void Matrix(string name, long cols, long rows) => Add(w, scratch, name, matrixType(name, [cols, rows]), [cols, rows], seed, Init.Matrix);
        void Experts(string name, long cols, long rows) =>
            Add(w, scratch, name, matrixType(name, [cols, rows, s.ExpertCount]), [cols, rows, s.ExpertCount], seed, Init.Matrix);
        // llama.cpp's converter and llama-quantize keep the router (and qwen2moe's shared-expert gate) in F32.
        void Router(string name, params long[] shape) => Add(w, scratch, name, GgmlType.F32, shape, seed, Init.Matrix);
        void Norm(string name, long n) => Add(w, scratch, name, GgmlType.F32, [n], seed, Init.Norm);
        void Bias(string name, long n) => Add(w, scratch, name, GgmlType.F32, [n], seed, Init.Bias);

        // A tied classifier is the embedding, so it takes the classifier's spread.
        if (s.TiedEmbeddings) Add(w, scratch, "token_embd.weight", matrixType("token_embd.weight", [dim, s.VocabSize]), [dim, s.VocabSize], seed, Init.Matrix, s.OutputWeightScale);
        else Matrix("token_embd.weight", dim, s.VocabSize);
        if (s.LongRopeOriginalContext is not null)
            foreach (var (name, factors) in SyntheticPhi3.RopeFactors(s))
                w.AddTensor(name, GgmlType.F32, [factors.Length], factors);
        for (int i = 0; i < s.NumLayers; i++)
        {
            string b = $"blk.{i}.";
            Norm(b + "attn_norm.weight", dim);
            if (s.Mla is { } mla)
            {
                AddLatentAttention(b, mla);
                FeedForward(b, i);
                continue;
            }
            if (s.Phi3) Matrix(b + "attn_qkv.weight", dim, q + 2 * kv);
            else
            {
                Matrix(b + "attn_q.weight", dim, q);
                Matrix(b + "attn_k.weight", dim, kv);
                Matrix(b + "attn_v.weight", dim, kv);
            }
            if (s.QkvBias)
            {
                Bias(b + "attn_q.bias", q);
                Bias(b + "attn_k.bias", kv);
                Bias(b + "attn_v.bias", kv);
            }
            if (s.QkNorm)
            {
                Norm(b + "attn_q_norm.weight", s.QkNormFullWidth ? q : hd);
                Norm(b + "attn_k_norm.weight", s.QkNormFullWidth ? kv : hd);
            }
            Matrix(b + "attn_output.weight", q, dim);
            // Gemma's norms are written as llama.cpp's converter writes them, with its 1 already added.
            if (s.IsGemma) Norm(b + "post_attention_norm.weight", dim);
            Norm(b + "ffn_norm.weight", dim);
            FeedForward(b, i);
        }

        // deepseek2: latent attention, then a dense feed-forward in the leading layers and experts after them.
        void AddLatentAttention(string b, SyntheticMlaSpec m)
        {
            long H = s.NumHeads;
            if (m.QLoraRank > 0)
            {
                Matrix(b + "attn_q_a.weight", dim, m.QLoraRank);
                Norm(b + "attn_q_a_norm.weight", m.QLoraRank);
                Matrix(b + "attn_q_b.weight", m.QLoraRank, H * m.HeadDim);
            }
            else Matrix(b + "attn_q.weight", dim, H * m.HeadDim);
            Matrix(b + "attn_kv_a_mqa.weight", dim, m.KvLoraRank + m.QkRopeDim);
            Norm(b + "attn_kv_a_norm.weight", m.KvLoraRank);
            Matrix(b + "attn_kv_b.weight", m.KvLoraRank, H * (m.QkNopeDim + m.VHeadDim));
            Matrix(b + "attn_output.weight", H * m.VHeadDim, dim);
            Norm(b + "ffn_norm.weight", dim);
        }

        void FeedForward(string b, int i)
        {
            bool dense = s.Mla is { } m && i < m.LeadingDenseLayers;
            if (s.IsMoe && !dense)
            {
                long ffe = s.EffectiveExpertFfnDim, sh = s.EffectiveSharedExpertFfnDim;
                Router(b + "ffn_gate_inp.weight", dim, s.ExpertCount);
                Experts(b + "ffn_gate_exps.weight", dim, ffe);
                Experts(b + "ffn_up_exps.weight", dim, ffe);
                Experts(b + "ffn_down_exps.weight", ffe, dim);
                if (s.Mla is { ProbsBias: true }) Bias(b + "exp_probs_b.bias", s.ExpertCount);
                if (sh > 0)
                {
                    if (s.Mla is null) Router(b + "ffn_gate_inp_shexp.weight", dim);
                    Matrix(b + "ffn_gate_shexp.weight", dim, sh);
                    Matrix(b + "ffn_up_shexp.weight", dim, sh);
                    Matrix(b + "ffn_down_shexp.weight", sh, dim);
                }
            }
            else if (s.Phi3)
            {
                Matrix(b + "ffn_up.weight", dim, 2 * ffn);
                Matrix(b + "ffn_down.weight", ffn, dim);
            }
            else
            {
                Matrix(b + "ffn_gate.weight", dim, ffn);
                Matrix(b + "ffn_up.weight", dim, ffn);
                Matrix(b + "ffn_down.weight", ffn, dim);
            }
            if (s.IsGemma) Norm(b + "post_ffw_norm.weight", dim);
        }
        Norm("output_norm.weight", dim);
        if (!s.TiedEmbeddings) Add(w, scratch, "output.weight", matrixType("output.weight", [dim, s.VocabSize]), [dim, s.VocabSize], seed, Init.Matrix, s.OutputWeightScale);
    }

    private enum Init { Matrix, Norm, Bias }

    private sealed class Scratch(IProgress<WorkProgress>? progress)
    {
        private float[] _floats = [];
        private byte[] _bytes = [];
        private long _done;
        public float[] Floats(long n) => _floats.Length >= n ? _floats : _floats = new float[n];
        public byte[] Bytes(long n) => _bytes.Length >= n ? _bytes : _bytes = new byte[n];

        /// <summary>Bytes of every tensor added: all are added before the first is written.</summary>
        public long Total { get; set; }

        public void Wrote(long bytes, string tensor)
        {
            _done += bytes;
            progress?.Report(new WorkProgress(_done, Total, WorkProgress.Bytes, tensor));
        }
    }

    private static void Add(GgufWriter w, Scratch scratch, string name, GgmlType type, long[] shape, int seed, Init init, float gain = 1f)
    {
        long cols = shape[0], rows = shape.Skip(1).Aggregate(1L, (a, b) => a * b);
        scratch.Total += TypeTraits.RowSize(type, cols) * rows;
        w.AddTensor(name, type, shape, stream => Generate(stream, scratch, name, type, cols, rows, seed, init, gain));
    }

    private static void Generate(Stream output, Scratch scratch, string name, GgmlType type, long cols, long rows, int seed, Init init, float gain)
    {
        var rng = new SyntheticRandom(seed, name);
        float scale = gain * init switch { Init.Matrix => 1f / MathF.Sqrt(cols), Init.Norm => 0.05f, _ => 0.02f };
        float offset = init == Init.Norm ? 1f : 0f;
        long rowsPerChunk = Math.Max(1, ChunkElements / cols);
        var floats = scratch.Floats(rowsPerChunk * cols);
        var bytes = scratch.Bytes(rowsPerChunk * TypeTraits.RowSize(type, cols));
        for (long r = 0; r < rows; r += rowsPerChunk)
        {
            long n = Math.Min(rowsPerChunk, rows - r);
            var f = floats.AsSpan(0, (int)(n * cols));
            for (int i = 0; i < f.Length; i++) f[i] = offset + scale * rng.NextNormal();
            var dst = bytes.AsSpan(0, (int)(n * TypeTraits.RowSize(type, cols)));
            if (type == GgmlType.F32) MemoryMarshal.AsBytes(f).CopyTo(dst);
            else WeightQuantizer.Quantize(type, f, dst);
            output.Write(dst);
            scratch.Wrote(dst.Length, name);
        }
    }

    /// <summary>
    /// SplitMix64 stream seeded from (seed, tensor name). Each draw is approximately standard normal: the sum of four
    /// 16-bit uniforms (Irwin–Hall, n = 4), rescaled to unit variance. One 64-bit step per value keeps multi-GB
    /// models quick to write; tails end at ±3.46, which suits weights better than a true normal would.
    /// </summary>
    private struct SyntheticRandom(int seed, string name)
    {
        private ulong _state = Mix((ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ Fnv1a(name));

        private static ulong Fnv1a(string s)
        {
            ulong h = 14695981039346656037UL;
            foreach (byte b in Encoding.UTF8.GetBytes(s)) { h ^= b; h *= 1099511628211UL; }
            return h;
        }

        private static ulong Mix(ulong z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public float NextNormal()
        {
            ulong x = Mix(_state += 0x9E3779B97F4A7C15UL);
            long sum = (long)(x & 0xFFFF) + (long)((x >> 16) & 0xFFFF) + (long)((x >> 32) & 0xFFFF) + (long)(x >> 48);
            return (sum - 131070) * (1.7320508f / 65536f);
        }
    }
}
