using System.CommandLine;
using Loom.Models.Architectures;
using Loom.Models.Architectures.Moe;
using Loom.Models.Formats.Gguf;

namespace Loom.Cli.Commands;

/// <summary><c>loom inspect</c>: what a model file holds — architecture, hyperparameters, tensors, tokenizer.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "A .gguf file, a Hugging Face directory or a llama2.c .bin" };
        var tokenizer = ModelOptions.Tokenizer();
        var tensors = new Option<bool>("--no-tensors") { Description = "Leave out the tensor list" };
        var cmd = new Command("inspect", "Show a model's architecture, hyperparameters, tensors and tokenizer") { model, tokenizer, tensors };
        cmd.SetAction(parse =>
        {
            using var m = ModelOptions.Load(parse, parse.GetValue(model)!, parse.GetValue(tokenizer), quiet: false, prefetch: false);
            var c = m.Config;
            var o = Console.Out;
            o.WriteLine($"model:         {m.Name} ({m.Format}) {m.Path}");
            o.WriteLine($"architecture:  {c.Architecture}");
            o.WriteLine($"layers:        {c.NumLayers}");
            o.WriteLine($"dim:           {c.Dim}   ffn: {c.FfnDim}");
            o.WriteLine($"heads:         {c.NumHeads} (kv {c.NumKvHeads}, head dim {c.HeadDim})");
            o.WriteLine($"attention:     {AttentionKind(c)}");
            o.WriteLine($"kv cache:      {KvCacheLine(c)}");
            if (c.SlidingWindow > 0) o.WriteLine($"sliding:       {Sliding(c)}");
            if (c.AttnSoftcap != 0 || c.FinalSoftcap != 0) o.WriteLine($"soft-caps:     attention {c.AttnSoftcap:g}, logits {c.FinalSoftcap:g}");
            o.WriteLine($"experts:       {Experts(c)}");
            o.WriteLine($"context:       {c.ContextLength}");
            o.WriteLine($"vocab:         {c.VocabSize}");
            o.WriteLine($"rms norm eps:  {c.RmsNormEps:g}");
            o.WriteLine($"rope:          {c.RopeStyle}, theta {c.RopeTheta:g}, dims {c.RopeDim}, scale {c.RopeFreqScale:g}{(c.RopeFreqFactors is null ? "" : ", frequency factors")}");
            if (c.LongRope is { } lr)
                o.WriteLine($"rope scaling:  LongRoPE, original context {lr.OriginalContext}: {(lr.Factors(c.ContextLength) == lr.Long ? "long" : "short")} factors at context {c.ContextLength}, attention factor {c.RopeAttnFactor:g}");
            else if (c.RopeAttnFactor != 1f) o.WriteLine($"rope scaling:  attention factor {c.RopeAttnFactor:g}");
            if (Fused(m.Transformer.Weights) is { } fused) o.WriteLine($"fused:         {fused} (split into row views)");
            o.WriteLine($"flags:         tied embeddings {c.TiedEmbeddings}, qkv bias {c.QkvBias}, qk norm {c.QkNorm}{(c.QkNormFullWidth ? " (over the whole width)" : "")}");
            var weights = m.Transformer.Weights.All().ToArray();
            long bytes = weights.Sum(t => t.ByteSize), elements = weights.Sum(t => t.ElementCount);
            o.WriteLine($"parameters:    {elements:N0} in {weights.Length} tensors, {bytes / 1048576.0:F1} MiB");
            var t = m.Tokenizer;
            o.WriteLine($"tokenizer:     {t.Kind} ({t.PreTokenizerName}), {t.VocabSize} tokens, bos {t.BosId}{(t.AddBos ? " (added)" : "")}, eos {t.EosId}{(t.AddEos ? " (added)" : "")}, end-of-generation [{string.Join(", ", t.EndOfGenerationIds.Order())}]");
            o.WriteLine($"chat template: {(t.ChatTemplate is null ? "none" : $"{t.ChatTemplate.Length} chars")}");
            if (m.Metadata.Count > 0)
            {
                o.WriteLine("metadata:");
                foreach (var (k, v) in m.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    o.WriteLine($"  {k} = {Show(v)}");
            }
            if (!parse.GetValue(tensors))
            {
                o.WriteLine("tensors:");
                foreach (var w in weights) o.WriteLine($"  {w.Name,-32} {w.Type,-5} [{string.Join(", ", w.Shape)}]");
            }
            return 0;
        });
        return cmd;
    }

    /// <summary>MHA when every query head has its own K/V head, MQA when all share one, GQA between; MLA for latent attention.</summary>
    private static string AttentionKind(ModelConfig c) => c.Mla is { } m
        ? $"MLA (latent attention): kv_lora_rank {m.KvLoraRank}, rope dim {m.QkRopeDim}, nope dim {m.QkNopeDim}, v dim {m.VHeadDim}, " +
          $"q {(m.QLoraRank > 0 ? $"lora rank {m.QLoraRank}" : "one matrix")}{(m.YarnExtFactor != 0 ? $", YaRN (log multiplier {m.YarnLogMultiplier:g})" : "")}"
        : c.NumKvHeads == c.NumHeads ? "MHA" : c.NumKvHeads == 1 ? "MQA" : $"GQA ({c.NumHeads / c.NumKvHeads} query heads per KV head)";

    /// <summary>The window, how many layers slide, and the pattern per layer (L sliding, G global), e.g. "LGLG…".</summary>
    private static string Sliding(ModelConfig c)
    {
        var pattern = string.Concat(Enumerable.Range(0, c.NumLayers).Select(l => c.IsSliding(l) ? 'L' : 'G'));
        int local = pattern.Count(ch => ch == 'L');
        string rope = c.SlidingRopeTheta != 0 ? $", local rope theta {c.SlidingRopeTheta:g}" : "";
        return $"window {c.SlidingWindow} on {local} of {c.NumLayers} layers{rope}; layers {pattern}";
    }

    private static string Experts(ModelConfig c) => !c.IsMoe ? "none (dense)" :
        $"{c.ExpertCount} routed, {c.ExpertUsedCount} used per token, ffn {c.ExpertFfnDim} each, " +
        (c.SharedExpertFfnDim == 0 ? "no shared" : c.Mla is not null
            ? $"{c.SharedExpertFfnDim / c.ExpertFfnDim} shared (ffn {c.SharedExpertFfnDim} together, ungated)"
            : $"1 shared (ffn {c.SharedExpertFfnDim}, sigmoid-gated)") +
        (c.ExpertGating == MoeGating.Sigmoid ? "; sigmoid scores" : "") +
        (c.ExpertGroupCount > 1 ? $"; chosen within the best {c.ExpertGroupUsedCount} of {c.ExpertGroupCount} groups" : "") +
        $"; weights {(c.ExpertWeightsNorm ? "renormalized" : c.ExpertGating == MoeGating.Sigmoid ? "as the sigmoid gives them" : "as softmax gives them")}" +
        (c.ExpertWeightsScale != 1f ? $", scaled {c.ExpertWeightsScale:g}" : "") +
        (c.LeadingDenseLayers > 0 ? $"; the first {c.LeadingDenseLayers} layer(s) dense (ffn {c.FfnDim})" : "");

    /// <summary>Bytes one token occupies in the cache, all layers; for latent attention, against the per-head K/V cache llama.cpp c392e50 keeps.</summary>
    private static string KvCacheLine(ModelConfig c)
    {
        long f16 = KvCache.BytesPerToken(c, KvCacheType.F16), int8 = KvCache.BytesPerToken(c, KvCacheType.Int8);
        string line = $"{f16:N0} bytes per token f16 ({int8:N0} int8)";
        if (c.Mla is not { } m) return line;
        long mha = 2L * c.NumLayers * c.NumHeads * (c.HeadDim + m.VHeadDim);
        return line + $"; decompressed per-head K/V (MHA) would take {mha:N0} (×{(double)mha / f16:F1})";
    }

    /// <summary>Which fused tensors the first layer's matrices are row views of (phi3's attn_qkv and gate-and-up ffn_up).</summary>
    private static string? Fused(ModelWeights w)
    {
        if (w.Layers.Length == 0) return null;
        var l = w.Layers[0];
        var parts = new List<string>();
        if (l.Wq.Name.EndsWith(']') && l.Wk.Name.EndsWith(']')) parts.Add("Q/K/V in attn_qkv");
        if (l.WGate?.Name.EndsWith(']') == true && l.WUp?.Name.EndsWith(']') == true) parts.Add("gate/up in ffn_up");
        return parts.Count == 0 ? null : string.Join(", ", parts);
    }

    private static string Show(object v) => v switch
    {
        string s => s.Length > 80 ? $"\"{s[..77].ReplaceLineEndings(" ")}...\" ({s.Length} chars)" : $"\"{s}\"",
        GgufArray a => $"[{a.ElementType} × {a.Count}]",
        _ => v.ToString() ?? "",
    };
}
