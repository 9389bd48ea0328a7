namespace Loom.Models.Formats.Llama2c;

/// <summary>Where one tensor lies: fp32 (<see cref="GroupSize"/> 0), or int8 values followed by fp32 group scales.</summary>
internal sealed record Llama2cTensor(string Name, long[] Shape, long Offset, long Elements, int GroupSize)
{
    /// <summary>Bytes the tensor occupies in the file.</summary>
    public long FileBytes => GroupSize == 0 ? Elements * 4 : Elements + Elements / GroupSize * 4;
}

/// <summary>The file order of each checkpoint version, as export.py writes it (and run.c / runq.c read it).</summary>
internal sealed class Llama2cLayout
{
    private readonly List<Llama2cTensor> _tensors = [];
    private long _offset;
    private readonly string _path;
    private readonly int _groupSize;

    private Llama2cLayout(string path, long start, int groupSize) { _path = path; _offset = start; _groupSize = groupSize; }

    public IReadOnlyList<Llama2cTensor> Tensors => _tensors;
    public long TotalBytes => _offset;

    public static Llama2cLayout Plan(string path, Llama2cHeader h)
    {
        try { return PlanUnchecked(path, h); }
        catch (OverflowException) { throw new ModelFormatException(path, "header sizes overflow: not a llama2.c checkpoint"); }
    }

    private static Llama2cLayout PlanUnchecked(string path, Llama2cHeader h)
    {
        long d = h.Dim, f = h.HiddenDim, v = h.VocabSize, kv = h.KvDim;
        var x = new Llama2cLayout(path, h.DataOffset, h.GroupSize);
        int L = h.Layers;
        // ggml order: [in, out], i.e. the row-major [out, in] matrices llama2.c stores.
        void PerLayer(string what, bool quantized, params long[] shape) { for (int l = 0; l < L; l++) x.Add($"blk.{l}.{what}.weight", quantized, shape); }
        void Matrices(bool q)
        {
            PerLayer("attn_q", q, d, d); PerLayer("attn_k", q, d, kv); PerLayer("attn_v", q, d, kv); PerLayer("attn_output", q, d, d);
        }
        void Ffn(bool q) { PerLayer("ffn_gate", q, d, f); PerLayer("ffn_down", q, f, d); PerLayer("ffn_up", q, d, f); }

        if (h.Version == 0)
        {
            x.Add("token_embd.weight", false, d, v);
            PerLayer("attn_norm", false, d);
            Matrices(false);
            PerLayer("ffn_norm", false, d);
            Ffn(false);
            x.Add("output_norm.weight", false, d);
            x.Skip(checked(2L * h.SeqLen * (h.HeadDim / 2) * 4)); // freq_cis real and imaginary tables, unused
        }
        else
        {
            bool q = h.Version == 2;
            PerLayer("attn_norm", false, d);
            PerLayer("ffn_norm", false, d);
            x.Add("output_norm.weight", false, d);
            x.Add("token_embd.weight", q, d, v);
            Matrices(q);
            Ffn(q);
            if (!h.SharedClassifier) x.Add("output.weight", q, d, v);
            return x;
        }
        if (!h.SharedClassifier) x.Add("output.weight", false, d, v);
        return x;
    }

    private void Add(string name, bool quantized, params long[] shape)
    {
        long n = 1;
        foreach (var s in shape) n = checked(n * s);
        int gs = quantized ? _groupSize : 0;
        if (quantized && n % gs != 0)
            throw new ModelFormatException(_path, $"tensor '{name}' has {n} values, not a multiple of the group size {gs}");
        var t = new Llama2cTensor(name, shape, _offset, n, gs);
        _tensors.Add(t);
        _offset = checked(_offset + t.FileBytes);
    }

    private void Skip(long bytes) => _offset = checked(_offset + bytes);
}
