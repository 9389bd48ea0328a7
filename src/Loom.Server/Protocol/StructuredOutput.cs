using System.Text.Json;
using Loom.Engine;
using Loom.Engine.Sampling;
using Loom.Engine.Structured;
using Loom.Server.Errors;

namespace Loom.Server.Protocol;

/// <summary>
/// The request fields that constrain the output, on both endpoints: OpenAI's <c>response_format</c>, vLLM's
/// <c>guided_json</c>, <c>guided_regex</c>, <c>guided_choice</c> and <c>guided_grammar</c>, and llama.cpp's
/// <c>grammar</c> and <c>json_schema</c>. At most one may be given. The constraint is compiled before the request is
/// queued (once per distinct constraint, cached by the engine), so anything invalid or unsupported is a 400 naming the
/// field, with the schema keyword or regex feature at fault in the message.
/// </summary>
internal static class StructuredOutput
{
    /// <summary>The constraint the request asks for and the field it came from; (null, null) when none.</summary>
    public static (Constraint? Constraint, string? Field) Parse(SamplingRequest r)
    {
        var found = new List<(Constraint? C, string Field)>();
        if (Given(r.ResponseFormat)) found.Add((ResponseFormat(r.ResponseFormat), "response_format"));
        if (Given(r.GuidedJson)) found.Add((Constraint.JsonSchema(SchemaText(r.GuidedJson, "guided_json")), "guided_json"));
        if (Given(r.JsonSchema)) found.Add((Constraint.JsonSchema(SchemaText(r.JsonSchema, "json_schema")), "json_schema"));
        if (Given(r.GuidedRegex)) found.Add((Constraint.Regex(Text(r.GuidedRegex, "guided_regex")), "guided_regex"));
        if (Given(r.GuidedGrammar)) found.Add((Constraint.Grammar(Text(r.GuidedGrammar, "guided_grammar")), "guided_grammar"));
        if (Given(r.Grammar)) found.Add((Constraint.Grammar(Text(r.Grammar, "grammar")), "grammar"));
        if (Given(r.GuidedChoice)) found.Add((Choice(r.GuidedChoice), "guided_choice"));
        found.RemoveAll(f => f.C is null); // response_format text
        if (found.Count > 1)
            throw OpenAiException.BadRequest($"Only one output constraint may be given; got {string.Join(" and ", found.Select(f => f.Field))}.", found[1].Field, "invalid_value");
        return found.Count == 0 ? (null, null) : (found[0].C, found[0].Field);
    }

    /// <summary><paramref name="p"/> with the request's constraint, compiled (and checked) against <paramref name="engine"/>'s vocabulary.</summary>
    public static SamplingParams Apply(SamplingParams p, SamplingRequest r, LlmEngine engine)
    {
        var (constraint, field) = Parse(r);
        if (constraint is null) return p;
        try { engine.Constraints.Compile(constraint); }
        catch (ConstraintException e) { throw e.WithField(field!); }
        return p with { Constraint = constraint };
    }

    private static bool Given(JsonElement e) => e.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null);

    private static Constraint? ResponseFormat(JsonElement f)
    {
        if (f.ValueKind != JsonValueKind.Object || !f.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw OpenAiException.BadRequest("response_format must be an object with a string 'type'.", "response_format", "invalid_type");
        switch (type.GetString())
        {
            case "text": return null;
            case "json_object": return Constraint.JsonObject();
            case "json_schema":
                if (!f.TryGetProperty("json_schema", out var js) || js.ValueKind != JsonValueKind.Object)
                    throw OpenAiException.BadRequest("response_format of type json_schema needs a 'json_schema' object.", "response_format", "invalid_value");
                if (!js.TryGetProperty("schema", out var schema) || schema.ValueKind is not (JsonValueKind.Object or JsonValueKind.True))
                    throw OpenAiException.BadRequest("response_format.json_schema needs a 'schema' object.", "response_format", "invalid_value");
                if (js.TryGetProperty("name", out var name) && name.ValueKind != JsonValueKind.String)
                    throw OpenAiException.BadRequest("response_format.json_schema.name must be a string.", "response_format", "invalid_type");
                return Constraint.JsonSchema(schema.GetRawText());
            default:
                throw OpenAiException.BadRequest($"response_format type '{type.GetString()}' is not supported (text, json_object and json_schema are).", "response_format", "invalid_value");
        }
    }

    private static string SchemaText(JsonElement e, string field) => e.ValueKind switch
    {
        JsonValueKind.Object or JsonValueKind.True => e.GetRawText(),
        JsonValueKind.String => e.GetString()!,
        _ => throw OpenAiException.BadRequest($"{field} must be a JSON schema (an object, or a string holding one).", field, "invalid_type"),
    };

    private static string Text(JsonElement e, string field) =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw OpenAiException.BadRequest($"{field} must be a string.", field, "invalid_type");

    private static Constraint Choice(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() == 0 || e.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
            throw OpenAiException.BadRequest("guided_choice must be a non-empty list of strings.", "guided_choice", "invalid_type");
        return Constraint.Choice(e.EnumerateArray().Select(x => x.GetString()!));
    }
}
