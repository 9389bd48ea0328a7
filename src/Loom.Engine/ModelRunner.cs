using Loom.Models.Architectures;

namespace Loom.Engine;

/// <summary>
/// Turns a step's scheduled chunks into one ragged <see cref="ForwardBatch"/>, runs the model once for all of
/// them, and exposes the logits of the chunks that end their sequence (those get a token sampled).
/// </summary>
public sealed class ModelRunner : IDisposable
{
    private readonly ForwardBatch _batch = new();
    private float[] _logits = [];

    public ModelRunner(Transformer model, KvCache cache)
    {
        Model = model;
        Cache = cache;
    }

    public Transformer Model { get; }
    public KvCache Cache { get; }
    public int VocabSize => Model.Config.VocabSize;
    /// <summary>Tokens run through the model since start (prefill and decode).</summary>
    public long TokensComputed { get; private set; }

    /// <summary>Runs the chunks; afterwards <see cref="Logits"/>(i) holds the i-th sampling chunk's logits.</summary>
    public void Run(IReadOnlyList<ScheduledChunk> chunks)
    {
        _batch.Clear();
        foreach (var c in chunks)
            _batch.Add(c.Seq.Tokens.Slice(c.Start, c.Count), c.Start, c.Seq.BlockArray, c.Samples ? LogitRequest.Last : LogitRequest.None);
        int need = _batch.LogitCount * VocabSize;
        if (_logits.Length < need) _logits = new float[need];
        Model.Forward(_batch, Cache, _logits);
        TokensComputed += _batch.TokenCount;
    }

    /// <summary>Logits of the <paramref name="i"/>-th sampling chunk of the last <see cref="Run"/>.</summary>
    public Span<float> Logits(int i) => _logits.AsSpan(i * VocabSize, VocabSize);

    public void Dispose() => Cache.Dispose();
}
