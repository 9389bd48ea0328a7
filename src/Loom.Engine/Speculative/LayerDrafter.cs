using Loom.Models.Architectures;

namespace Loom.Engine.Speculative;

/// <summary>
/// Self-drafting (LayerSkip; Draft &amp; Verify): the target's first N layers, then its own final norm and classifier,
/// guess the next tokens (each picked by <see cref="DraftSampler"/>), one batched pass per draft position over every sequence that speculates this
/// step. It shares the target's weights and its KV cache: for every position already in the cache, layers below N
/// hold exactly what the draft's layers would compute (the same layers over the same tokens), so the draft reads
/// them as they are and needs no cache of its own; its own writes go to the slots the scheduler reserved for the
/// verification chunk, which the verification pass then overwrites in every layer.
/// </summary>
internal sealed class LayerDrafter(int layers, int vocabSize)
{
    private readonly ForwardBatch _batch = new();
    private float[] _logits = [];

    /// <summary>Fills the draft tokens of this step's speculative chunks (their slots are already reserved).</summary>
    public void Fill(IReadOnlyList<ScheduledChunk> chunks, ModelRunner runner, DraftSampler picker)
    {
        int rounds = 0;
        for (int i = 0; i < chunks.Count; i++) rounds = Math.Max(rounds, chunks[i].Draft);
        for (int r = 0; r < rounds; r++)
        {
            _batch.Clear();
            for (int i = 0; i < chunks.Count; i++)
            {
                var c = chunks[i];
                // Position Start + r holds the last token (r = 0) or draft token r - 1: the last of the verify run so far.
                if (c.Draft > r) _batch.Add(c.Seq.Speculation!.VerifyTokens(r)[r..], c.Start + r, c.Seq.BlockArray, runner.Cache.Groups > 1 ? c.Seq.TableArray(1) : null, LogitRequest.Last);
            }
            int need = _batch.LogitCount * vocabSize;
            if (_logits.Length < need) _logits = new float[Math.Max(need, 2 * _logits.Length)];
            runner.RunLayers(_batch, _logits, layers);
            int row = 0;
            for (int i = 0; i < chunks.Count; i++)
                if (chunks[i].Draft > r) picker.Pick(chunks[i].Seq, r, _logits.AsSpan(row++ * vocabSize, vocabSize));
        }
    }
}
