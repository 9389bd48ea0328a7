using System.Text.Json;
using System.Text.Json.Nodes;

namespace Loom.Cli.BenchServe;

/// <summary>
/// One request's prompt (a string or a token-id array, as <c>/v1/completions</c> takes it), its length in tokens when
/// known before sending, and the tokens to ask for.
/// </summary>
internal sealed record BenchPrompt(JsonNode Prompt, int? InputTokens, int OutputTokens)
{
    /// <summary>Smallest token id a synthetic prompt uses: 0-3 are control tokens in SentencePiece vocabularies.</summary>
    public const int FirstSyntheticId = 4;

    /// <summary>
    /// vLLM's random dataset: <paramref name="prefixLen"/> token ids every prompt shares, then
    /// <paramref name="inputLen"/> of its own; input and output lengths are drawn uniformly from
    /// [len·(1−r), len·(1+r)]. Prompts go as token ids, so their lengths are exact on any server that takes ids,
    /// without knowing its tokenizer.
    /// </summary>
    public static BenchPrompt[] Random(int count, int inputLen, int outputLen, int prefixLen, double rangeRatio, int vocabSize, int seed)
    {
        if (vocabSize <= FirstSyntheticId) throw new ArgumentException($"--random-vocab-size must be more than {FirstSyntheticId}");
        if (rangeRatio is < 0 or >= 1) throw new ArgumentException($"--random-range-ratio must be at least 0 and below 1, not {rangeRatio}");
        var rng = new Random(seed);
        int Token() => rng.Next(FirstSyntheticId, vocabSize);
        int Length(int len) => Math.Max(1, rng.Next((int)Math.Floor(len * (1 - rangeRatio)), (int)Math.Floor(len * (1 + rangeRatio)) + 1));
        var prefix = Enumerable.Range(0, prefixLen).Select(_ => Token()).ToArray();
        var prompts = new BenchPrompt[count];
        for (int i = 0; i < count; i++)
        {
            int inLen = inputLen == 0 ? 0 : Length(inputLen), outLen = Length(outputLen);
            var ids = new JsonArray();
            foreach (int t in prefix) ids.Add(t);
            for (int j = 0; j < inLen; j++) ids.Add(Token());
            if (ids.Count == 0) ids.Add(Token());
            prompts[i] = new BenchPrompt(ids, ids.Count, outLen);
        }
        return prompts;
    }

    /// <summary>
    /// A JSONL file, one object a line: <c>"prompt"</c> (text or token ids) and optionally <c>"output_len"</c> or
    /// <c>"max_tokens"</c> (else <paramref name="defaultOutputLen"/>). The first <paramref name="count"/> lines are
    /// used, shuffled by <paramref name="seed"/>, and reused in turn when the file has fewer.
    /// </summary>
    public static BenchPrompt[] FromJsonl(string path, int count, int defaultOutputLen, int seed)
    {
        var lines = new List<BenchPrompt>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode? node;
            try { node = JsonNode.Parse(line); }
            catch (JsonException e) { throw new InvalidOperationException($"{path}:{lineNo}: not JSON ({e.Message})"); }
            if (node is not JsonObject o || o["prompt"] is not { } prompt
                || !(prompt.GetValueKind() == JsonValueKind.String || prompt is JsonArray { Count: > 0 }))
                throw new InvalidOperationException($"{path}:{lineNo}: expected an object with a \"prompt\" string or token-id array");
            int outLen = defaultOutputLen;
            if ((o["output_len"] ?? o["max_tokens"]) is { } n)
            {
                if (n.GetValueKind() != JsonValueKind.Number || !n.AsValue().TryGetValue(out int v) || v < 1)
                    throw new InvalidOperationException($"{path}:{lineNo}: output_len must be a positive integer");
                outLen = v;
            }
            lines.Add(new BenchPrompt(prompt.DeepClone(), prompt is JsonArray a ? a.Count : null, outLen));
        }
        if (lines.Count == 0) throw new InvalidOperationException($"{path}: no prompts");
        var shuffled = lines.ToArray();
        new Random(seed).Shuffle(shuffled);
        return Enumerable.Range(0, count).Select(i => shuffled[i % shuffled.Length]).ToArray();
    }
}
