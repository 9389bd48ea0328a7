using Loom.Core.Tensors;
using Loom.Core.Threading;
using Loom.Models;
using Loom.Models.Architectures;
using Loom.Models.Synthetic;

namespace Loom.Engine.Tests;

/// <summary>
/// A speculative verification's rows (a run added with <c>asDecodes</c>) give exactly the logits that decoding each
/// token alone gives, whatever the run's length: the products and attention sum each row in the single-token order,
/// and attention keeps each row on the exact path even where a prompt run of that length would go tiled. Without this
/// a near tie could make greedy speculation emit another token than plain decoding.
/// </summary>
public class VerificationRowsTests
{
    [Theory]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    public void VerificationRowsEqualLoneDecodes(GgmlType type)
    {
        var dir = Directory.CreateTempSubdirectory("loom-verify-rows-").FullName;
        try
        {
            var path = Path.Combine(dir, "m.gguf");
            SyntheticModel.Write(path, SyntheticModelSpec.Tiny, type, seed: 5);
            using var model = ModelLoader.Load(path);
            var t = model.Transformer;
            var c = model.Config;
            int vocab = c.VocabSize;
            // Prompt runs this long would otherwise take the tiled path.
            var policy = new AttentionPolicy { TiledMinPositions = 16 };
            var rng = new Random(7);
            var prompt = TinyModels.RandomTokens(rng, 40, vocab);
            var gen = TinyModels.RandomTokens(rng, 12, vocab);
            int blocks = (prompt.Length + gen.Length) / 16 + 2;
            var table = Enumerable.Range(0, blocks).ToArray();
            using var pool = new ComputePool(2);
            var batch = new ForwardBatch();
            var logits = new float[gen.Length * vocab];

            using var alone = new KvCache(c.NumLayers, c.NumKvHeads, c.HeadDim, blocks, 16);
            Prefill(alone);
            var expected = new float[gen.Length][];
            for (int i = 0; i < gen.Length; i++) expected[i] = Decode(alone, i, 1)[..vocab];

            for (int run = 2; run <= 8; run++)
            {
                using var cache = new KvCache(c.NumLayers, c.NumKvHeads, c.HeadDim, blocks, 16);
                Prefill(cache);
                int start = gen.Length - run;
                for (int i = 0; i < start; i++) Decode(cache, i, 1);
                var rows = Decode(cache, start, run, asDecodes: true);
                for (int j = 0; j < run; j++)
                    Assert.True(expected[start + j].AsSpan().SequenceEqual(rows.AsSpan(j * vocab, vocab)), $"{type}: row {j} of a run of {run} differs from decoding it alone");
            }

            void Prefill(KvCache cache)
            {
                batch.Clear();
                batch.Add(prompt, 0, table, LogitRequest.Last);
                t.Forward(batch, cache, logits, pool, policy);
            }

            float[] Decode(KvCache cache, int first, int count, bool asDecodes = false)
            {
                batch.Clear();
                batch.Add(gen.AsSpan(first, count), prompt.Length + first, table, LogitRequest.All, asDecodes);
                t.Forward(batch, cache, logits, pool, policy);
                return logits[..(count * vocab)];
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
