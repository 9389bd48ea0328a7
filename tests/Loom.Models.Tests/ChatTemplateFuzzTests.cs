using System.Diagnostics;
using System.Text;
using Loom.Models.ChatTemplates;
using Loom.Tests;
using Xunit.Abstractions;

namespace Loom.Models.Tests;

/// <summary>
/// A time-boxed mutation campaign over the chat-template language, seeded from the real templates in
/// Fixtures/templates: every mutant either parses and renders, or fails with <see cref="ChatTemplateException"/>
/// (a template may come from any GGUF file or a user's --chat-template). Any other exception, or a render that
/// does not end, fails with the mutant that caused it.
/// </summary>
public class ChatTemplateFuzzTests(ITestOutputHelper output)
{
    // Fragments of the language, so mutants reach deep into the parser rather than failing at the first character.
    private static readonly string[] Fragments =
    [
        "{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "~", "+", "-", "*",
        "/", "//", "%", "**", "==", "!=", "<", ">=", " and ", " or ", " not ", " in ", " is ", "if ", "elif ", "else", "endif",
        "for ", "endfor", "set ", "endset", "macro ", "endmacro", "call", "filter ", "raise_exception(", "loop.index0", "loop.last",
        "messages", "message['content']", "message.role", "ns.x", "namespace(", "range(", "tojson", "trim", "length", "'",
        "\"", "\\", "\n", " ", "0", "-1", "99999999999999999999", "1e308", "none", "true", "[::-1]", "[1:", "recursive", "\u0000", "\ud83d",
    ];

    [Fact]
    public void MutatedTemplatesRenderOrFailWithTheirOwnError()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "templates");
        var seeds = Directory.GetFiles(dir, "*.jinja").Select(File.ReadAllText).ToArray();
        Assert.NotEmpty(seeds);
        var messages = new List<ChatMessage> { new("system", "Be brief."), new("user", "Hi"), new("assistant", "Hello!"), new("user", "Again") };
        var rng = new Random(FuzzBudget.Seed);
        var sw = Stopwatch.StartNew();
        int executed = 0, rendered = 0, refused = 0;
        while (sw.Elapsed < FuzzBudget.Box(8) && executed < FuzzBudget.Cap(50_000))
        {
            string mutant = Mutate(seeds[rng.Next(seeds.Length)], rng);
            var task = Task.Run(() =>
            {
                try { new ChatTemplate(mutant).Render(messages, addGenerationPrompt: rng.Next(2) == 0, "<s>", "</s>"); return true; }
                catch (ChatTemplateException) { return false; }
            });
            if (!task.Wait(TimeSpan.FromSeconds(10))) Assert.Fail($"mutant {executed} did not finish rendering:\n{mutant}");
            if (task.IsFaulted) Assert.Fail($"mutant {executed}: {task.Exception!.InnerException}\n--- template ---\n{mutant}");
            if (task.Result) rendered++; else refused++;
            executed++;
        }
        output.WriteLine($"chat templates: {executed} mutants in {sw.Elapsed.TotalSeconds:F1}s, {rendered} rendered, {refused} refused");
        Assert.True(executed > 500, $"only {executed} mutants ran");
        Assert.True(rendered > 0 && refused > 0, "the campaign should reach both outcomes");
    }

    private static string Mutate(string seed, Random rng)
    {
        var sb = new StringBuilder(seed);
        for (int edits = 1 + rng.Next(4); edits > 0; edits--)
        {
            int at = rng.Next(sb.Length + 1);
            switch (rng.Next(4))
            {
                case 0: sb.Insert(at, Fragments[rng.Next(Fragments.Length)]); break;
                case 1: if (at < sb.Length) sb.Remove(at, Math.Min(sb.Length - at, 1 + rng.Next(8))); break;
                case 2: if (at < sb.Length) sb[at] = (char)rng.Next(32, 127); break;
                default:
                    // Splice a piece of the template into another place: repeated blocks, unbalanced tags.
                    int from = rng.Next(sb.Length), len = Math.Min(sb.Length - from, 1 + rng.Next(40));
                    sb.Insert(at, sb.ToString(from, len));
                    break;
            }
        }
        return sb.ToString();
    }
}
