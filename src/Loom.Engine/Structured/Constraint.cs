using System.Text.Json;

namespace Loom.Engine.Structured;

/// <summary>What kind of language a <see cref="Constraint"/> describes.</summary>
public enum ConstraintKind
{
    /// <summary>A JSON value valid against a JSON schema (the subset <see cref="JsonSchemaGrammar"/> documents).</summary>
    JsonSchema,
    /// <summary>Any JSON object (OpenAI's <c>response_format: {"type":"json_object"}</c>).</summary>
    JsonObject,
    /// <summary>A GBNF grammar in llama.cpp's syntax, starting at its <c>root</c> rule.</summary>
    Grammar,
    /// <summary>A regular expression the whole output must match.</summary>
    Regex,
    /// <summary>Exactly one of a list of strings.</summary>
    Choice,
}

/// <summary>
/// A constraint on a request's output: the engine lets the sampler draw only tokens that keep the output a prefix of
/// some string in the constraint's language, allows end-of-generation only where the output is complete, and ends the
/// sequence as soon as nothing more can follow. Set it as <see cref="Sampling.SamplingParams.Constraint"/>.
/// </summary>
/// <remarks>
/// A value: two constraints with the same kind and text are equal, and the engine compiles each distinct one once
/// (<see cref="ConstraintCompiler"/>). Build one with the factories; <see cref="ConstraintCompiler.Compile"/> (or
/// submitting a request) reports a bad one as a <see cref="ConstraintException"/> naming what is wrong.
/// </remarks>
public sealed record Constraint
{
    private Constraint(ConstraintKind kind, string text)
    {
        Kind = kind;
        Text = text;
    }

    public ConstraintKind Kind { get; }

    /// <summary>The schema, grammar or pattern; for <see cref="ConstraintKind.Choice"/> the choices as a JSON array; empty for a JSON object.</summary>
    public string Text { get; }

    /// <summary>A JSON value valid against <paramref name="schemaJson"/> (a JSON Schema document).</summary>
    public static Constraint JsonSchema(string schemaJson) => new(ConstraintKind.JsonSchema, schemaJson ?? throw new ArgumentNullException(nameof(schemaJson)));

    /// <summary>Any JSON object.</summary>
    public static Constraint JsonObject() => new(ConstraintKind.JsonObject, "");

    /// <summary>A GBNF grammar (llama.cpp's syntax) whose start rule is <c>root</c>.</summary>
    public static Constraint Grammar(string gbnf) => new(ConstraintKind.Grammar, gbnf ?? throw new ArgumentNullException(nameof(gbnf)));

    /// <summary>The whole output matches <paramref name="pattern"/> (anchored at both ends).</summary>
    public static Constraint Regex(string pattern) => new(ConstraintKind.Regex, pattern ?? throw new ArgumentNullException(nameof(pattern)));

    /// <summary>The output is exactly one of <paramref name="choices"/>.</summary>
    public static Constraint Choice(IEnumerable<string> choices)
    {
        ArgumentNullException.ThrowIfNull(choices);
        var list = choices.ToArray();
        if (list.Length == 0) throw new ConstraintException("the choice list is empty", "guided_choice");
        foreach (var c in list)
            if (c is null) throw new ConstraintException("a choice is null", "guided_choice");
        return new(ConstraintKind.Choice, System.Text.Json.JsonSerializer.Serialize(list, ChoiceJson.Default.StringArray));
    }

    /// <summary>The choices of a <see cref="ConstraintKind.Choice"/> constraint.</summary>
    public IReadOnlyList<string> Choices() =>
        Kind == ConstraintKind.Choice ? JsonSerializer.Deserialize(Text, ChoiceJson.Default.StringArray)! : throw new InvalidOperationException("not a choice constraint");

    public override string ToString() => Kind switch
    {
        ConstraintKind.JsonObject => "json_object",
        _ => $"{Kind}: {(Text.Length > 80 ? Text[..80] + "…" : Text)}",
    };
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class ChoiceJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>
/// A constraint that cannot be compiled: a syntax error, an unsupported JSON-schema keyword or regex feature, an
/// undefined rule. <see cref="ArgumentException.ParamName"/> is the request field it came from (the server answers
/// 400 naming it); <see cref="Keyword"/> the schema keyword or construct at fault, when there is one.
/// </summary>
public sealed class ConstraintException : ArgumentException
{
    public ConstraintException(string message, string? field = null, string? keyword = null) : base(message, field) => Keyword = keyword;

    /// <summary>The unsupported keyword or construct (e.g. <c>multipleOf</c>, <c>lookahead</c>), or null.</summary>
    public string? Keyword { get; }

    /// <summary>The same error attributed to the request field <paramref name="field"/>.</summary>
    public ConstraintException WithField(string field) => new(RawMessage, field, Keyword);

    /// <summary>The message without ArgumentException's " (Parameter ...)" suffix.</summary>
    public string RawMessage => ParamName is null ? Message : Message[..^($" (Parameter '{ParamName}')".Length)];
}
