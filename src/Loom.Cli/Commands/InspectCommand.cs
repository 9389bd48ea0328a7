using System.CommandLine;
using Loom.Models.Architectures;
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

    /// <summary>MHA when every query head has its own K/V head, MQA when all share one, GQA between.</summary>
    private static string AttentionKind(ModelConfig c) =>
        c.NumKvHeads == c.NumHeads ? "MHA" : c.NumKvHeads == 1 ? "MQA" : $"GQA ({c.NumHeads / c.NumKvHeads} query heads per KV head)";

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
        (c.SharedExpertFfnDim > 0 ? $"1 shared (ffn {c.SharedExpertFfnDim}, sigmoid-gated)" : "no shared") +
        $"; weights {(c.ExpertWeightsNorm ? "renormalized" : "as softmax gives them")}{(c.ExpertWeightsScale != 1f ? $", scaled {c.ExpertWeightsScale:g}" : "")}";

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
