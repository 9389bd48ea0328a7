using Loom.Models.Architectures;

namespace Loom.Models.Formats.SafeTensors;

/// <summary>
/// One mixture-of-experts layer from a Hugging Face checkpoint. HF stores each expert's matrices apart (Mixtral:
/// <c>block_sparse_moe.experts.{e}.w1/w3/w2</c> for gate/up/down and the router <c>block_sparse_moe.gate</c>; Qwen-MoE
/// and OLMoE: <c>mlp.experts.{e}.gate_proj/up_proj/down_proj</c> and <c>mlp.gate</c>); llama.cpp's converter stacks
/// them into the 3-D <c>ffn_*_exps</c> tensors <see cref="MoeWeights"/> runs on, and keeps routers in F32. Qwen2-MoE's
/// shared expert (<c>mlp.shared_expert.*</c>) and its gate (<c>mlp.shared_expert_gate</c>, [1, dim]) are views, as are
/// DeepSeek-V2's ungated shared experts (<c>mlp.shared_experts.*</c>, all of them in one matrix per projection).
/// </summary>
internal static class HfMoeWeights
{
    public static MoeWeights Layer(ModelConfig c, HfTensors t, int i)
    {
        bool mixtral = c.Architecture == "llama";
        string p = $"model.layers.{i}." + (mixtral ? "block_sparse_moe." : "mlp.");
        long ff = c.ExpertFfnDim, sh = c.SharedExpertFfnDim;
        bool deepseek = c.Mla is not null;
        string shared = deepseek ? "shared_experts" : "shared_expert";
        string[] Experts(string w) => Enumerable.Range(0, c.ExpertCount).Select(e => $"{p}experts.{e}.{w}.weight").ToArray();
        var (gate, up, down) = mixtral ? ("w1", "w3", "w2") : ("gate_proj", "up_proj", "down_proj");
        return new MoeWeights
        {
            Router = t.F32(p + "gate.weight", 0, c.Dim, c.ExpertCount),
            GateExps = t.Stack($"{p}experts.{gate}.weight", Experts(gate), c.Dim, ff),
            UpExps = t.Stack($"{p}experts.{up}.weight", Experts(up), c.Dim, ff),
            DownExps = t.Stack($"{p}experts.{down}.weight", Experts(down), ff, c.Dim),
            SharedGateInp = sh > 0 && !deepseek ? t.F32(p + "shared_expert_gate.weight", 0, c.Dim, 1) : null,
            GateShexp = sh > 0 ? t.Get($"{p}{shared}.gate_proj.weight", c.Dim, sh) : null,
            UpShexp = sh > 0 ? t.Get($"{p}{shared}.up_proj.weight", c.Dim, sh) : null,
            DownShexp = sh > 0 ? t.Get($"{p}{shared}.down_proj.weight", sh, c.Dim) : null,
        };
    }
}
