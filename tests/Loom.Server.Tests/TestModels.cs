using Loom.Core.Tensors;
using Loom.Models;
using Loom.Models.Architectures;
using Loom.Models.Synthetic;

namespace Loom.Server.Tests;

/// <summary>
/// Tiny random-weight GGUF models written once per test run: one with a chat template (a plain role-tagged
/// format), one without. F32, so batched and single-sequence forward passes agree exactly.
/// </summary>
internal static class TestModels
{
    public const string Template =
        "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

    private static readonly string Dir = Directory.CreateTempSubdirectory("loom-server-tests-").FullName;
    private static readonly Lazy<string> Chat = new(() => Write("chat.gguf", SyntheticModelSpec.Tiny with { Name = "tiny-chat", ContextLength = 1024, ChatTemplate = Template }));
    private static readonly Lazy<string> Plain = new(() => Write("plain.gguf", SyntheticModelSpec.Tiny with { Name = "tiny-plain" }));

    public static string ChatModelPath => Chat.Value;
    public static string PlainModelPath => Plain.Value;

    public static LoadedModel LoadChat() => ModelLoader.Load(ChatModelPath);
    public static LoadedModel LoadPlain() => ModelLoader.Load(PlainModelPath);

    private static string Write(string name, SyntheticModelSpec spec)
    {
        string path = Path.Combine(Dir, name);
        SyntheticModel.Write(path, spec, GgmlType.F32, seed: 3);
        return path;
    }
}
