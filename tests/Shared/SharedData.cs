namespace Loom.Tests;

/// <summary>
/// Locates the project's sibling <c>shared/</c> folder (models and llama.cpp reference outputs).
/// (The small models the repository ships itself are <see cref="RepoModels"/>.)
/// Tests that need it use <see cref="SharedFactAttribute"/>/<see cref="SharedTheoryAttribute"/> and skip, saying why, when it is absent.
/// </summary>
public static class SharedData
{
    public static readonly string? Root = Find();

    public static bool Available => Root is not null;

    public const string MissingMessage = "needs ../shared (models and llama.cpp references beside the repository); not found, so skipped";

    /// <summary>Absolute path of a file under shared/, e.g. <c>Path("models/stories260K/stories260K.gguf")</c>.</summary>
    public static string Path(string relative) =>
        System.IO.Path.Combine(Root ?? throw new InvalidOperationException(MissingMessage), relative);

    private static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("LOOM_SHARED_DIR");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(System.IO.Path.Combine(env, "models"))) return System.IO.Path.GetFullPath(env);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "shared");
            if (Directory.Exists(System.IO.Path.Combine(candidate, "models")) && Directory.Exists(System.IO.Path.Combine(candidate, "reference")))
                return candidate;
        }
        return null;
    }
}

/// <summary>
/// The small real models the repository itself ships in <c>models/</c> (see models/README.md): tests that need only a
/// small trained model use these and run on a fresh clone, leaving ../shared to the llama.cpp reference outputs and the
/// files too many or too large to ship.
/// </summary>
public static class RepoModels
{
    private static readonly string? Root = Find();

    /// <summary>stories260K, GGUF, all F32.</summary>
    public static string Stories260K => Path("stories260K.gguf");

    /// <summary>TinyStories-656K as a Hugging Face directory (F32 safetensors, tokenizer.json).</summary>
    public static string TinyStories656K => Path("tinystories-656k");

    /// <summary>Absolute path of a file under the repository's models/.</summary>
    public static string Path(string relative) => System.IO.Path.Combine(
        Root ?? throw new InvalidOperationException("the repository's models/ folder was not found above the test binaries (set LOOM_MODELS_DIR)"),
        relative);

    private static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("LOOM_MODELS_DIR");
        if (!string.IsNullOrEmpty(env) && File.Exists(System.IO.Path.Combine(env, "stories260K.gguf"))) return System.IO.Path.GetFullPath(env);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "models");
            if (File.Exists(System.IO.Path.Combine(candidate, "stories260K.gguf"))) return candidate;
        }
        return null;
    }
}

/// <summary>A fact that skips with a clear message when ../shared is absent.</summary>
public sealed class SharedFactAttribute : FactAttribute
{
    public SharedFactAttribute() { if (!SharedData.Available) base.Skip = SharedData.MissingMessage; }

    /// <summary>A reason to skip even when ../shared is present.</summary>
    public new string? Skip { get => base.Skip; set => base.Skip = value ?? base.Skip; }
}

/// <summary>A theory that skips with a clear message when ../shared is absent.</summary>
public sealed class SharedTheoryAttribute : TheoryAttribute
{
    public SharedTheoryAttribute() { if (!SharedData.Available) Skip = SharedData.MissingMessage; }
}
