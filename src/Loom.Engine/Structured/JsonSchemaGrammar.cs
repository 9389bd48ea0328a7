using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;

namespace Loom.Engine.Structured;

/// <summary>
/// Converts a JSON Schema to a GBNF grammar whose strings are JSON texts valid against it (llama.cpp's
/// json_schema_to_grammar, on a stricter contract: a keyword it cannot enforce is an error naming the keyword, never
/// ignored).
/// </summary>
/// <remarks>
/// Supported: <c>type</c> (one or a list), <c>enum</c>, <c>const</c>; objects with <c>properties</c>, <c>required</c>
/// and <c>additionalProperties</c> (false, true or a schema; when <c>properties</c> is given and
/// <c>additionalProperties</c> is not, no other property is generated, as OpenAI's strict mode and XGrammar do; an
/// object schema with neither is any object); arrays with <c>items</c>, <c>prefixItems</c>, <c>minItems</c>,
/// <c>maxItems</c>; strings with <c>minLength</c>, <c>maxLength</c> (in code points, exact), <c>pattern</c> (through
/// <see cref="RegexParser"/>; unanchored patterns are searched for, as the standard says) and <c>format</c>
/// (date, time, date-time, uuid, ipv4); integers with <c>minimum</c>/<c>maximum</c>/<c>exclusiveMinimum</c>/
/// <c>exclusiveMaximum</c> (exact); numbers with the same bounds (exact, written without an exponent when bounded);
/// booleans, null, <c>anyOf</c>, <c>oneOf</c> (as anyOf: the branches should be disjoint), <c>allOf</c> with one
/// schema, <c>$ref</c> to <c>#</c>, <c>#/$defs/…</c> or <c>#/definitions/…</c> (recursion included), and nesting.
/// Annotations (title, description, default, examples, $comment, $schema, $id, readOnly, writeOnly, deprecated) are
/// ignored since they constrain nothing. Output is compact JSON with optional white space between tokens (a space, or
/// a newline and up to 20 spaces or tabs, so a model cannot loop on white space), properties in schema order, and
/// strings whose characters are either themselves or the standard escapes (never lone surrogates).
/// </remarks>
public sealed class JsonSchemaGrammar
{
    private static readonly HashSet<string> Annotations =
        ["title", "description", "default", "examples", "$comment", "$schema", "$id", "readOnly", "writeOnly", "deprecated", "$defs", "definitions"];

    private static readonly HashSet<string> Known =
    [
        "type", "enum", "const", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems", "maxItems",
        "minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "anyOf", "oneOf", "allOf", "$ref",
    ];

    private readonly JsonElement _root;
    private readonly string _field;
    private readonly string _prefix;
    private readonly StringBuilder _out = new();
    private readonly Dictionary<string, string> _ruleByBody = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _refRules = new(StringComparer.Ordinal);
    private int _depth;

    private JsonSchemaGrammar(JsonElement root, string field, string prefix)
    {
        _root = root;
        _field = field;
        _prefix = prefix;
    }

    /// <summary>
    /// GBNF whose <c>root</c> rule (or <paramref name="rootName"/>) matches the JSON texts valid against
    /// <paramref name="schemaJson"/>. With a <paramref name="prefix"/> every rule name starts with it, so the rules can be
    /// pasted into a larger grammar (a tool call's arguments inside a model's tool-call syntax). Throws
    /// <see cref="ConstraintException"/> naming <paramref name="field"/> and the keyword it cannot enforce.
    /// </summary>
    public static string ToGbnf(string schemaJson, string field = "json_schema", string prefix = "", string rootName = "root")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(schemaJson); }
        catch (JsonException e) { throw new ConstraintException($"the schema is not valid JSON: {e.Message}", field); }
        using (doc) return ToGbnf(doc.RootElement, field, prefix, rootName);
    }

    /// <inheritdoc cref="ToGbnf(string, string, string, string)"/>
    public static string ToGbnf(JsonElement schema, string field = "json_schema", string prefix = "", string rootName = "root")
    {
        var c = new JsonSchemaGrammar(schema, field, prefix);
        c._names.Add(rootName);
        string body = c.Visit(schema, "root", "#");
        c.Emit(rootName, body);
        return c._out.ToString();
    }

    /// <summary>GBNF for any JSON object (<c>response_format: json_object</c>).</summary>
    public static string JsonObjectGbnf(string prefix = "", string rootName = "root")
    {
        var c = new JsonSchemaGrammar(default, "response_format", prefix);
        c._names.Add(rootName);
        c.Emit(rootName, c.AnyObject());
        return c._out.ToString();
    }

    private ConstraintException Error(string message, string? keyword, string path) =>
        new($"{(path == "#" ? "schema" : "schema at " + path)}: {message}", _field, keyword);

    private void Emit(string name, string body) => _out.Append(name).Append(" ::= ").Append(body).Append('\n');

    /// <summary>A rule for <paramref name="body"/> (one per distinct body); returns its name.</summary>
    private string Rule(string hint, string body)
    {
        if (_ruleByBody.TryGetValue(body, out var existing)) return existing;
        string name = NewName(hint);
        _ruleByBody[body] = name;
        Emit(name, body);
        return name;
    }

    private string NewName(string hint)
    {
        var sb = new StringBuilder(_prefix);
        foreach (char c in hint) sb.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        string baseName = sb.ToString().Trim('-');
        if (baseName.Length == 0) baseName = "r";
        string name = baseName;
        for (int i = 1; !_names.Add(name); i++) name = $"{baseName}-{i}";
        return name;
    }

    private string Ws => Rule("ws", "(\" \" | \"\\n\" [ \\t]{0,20})?");

    private string StringRule => Rule("string", "\"\\\"\" " + StringChar + "* \"\\\"\"");

    /// <summary>One character inside a JSON string: itself, or an escape (\uXXXX never a surrogate, so each is one code point).</summary>
    private const string StringChar =
        "([^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" ([0-9a-cA-CeEfF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2})))";

    private string AnyValue() => Rule("value", $"{AnyObject()} | {AnyArray()} | {StringRule} | {NumberRule} | \"true\" | \"false\" | \"null\"");

    private string NumberRule => Rule("number", NumberGrammar.AnyNumber);

    private string AnyObject()
    {
        if (_ruleByBody.TryGetValue("#object", out var name)) return name;
        name = NewName("object");
        _ruleByBody["#object"] = name;
        string value = AnyValue();
        string kv = $"{StringRule} {Ws} \":\" {Ws} {value}";
        Emit(name, $"\"{{\" {Ws} ({kv} ({Ws} \",\" {Ws} {kv})* {Ws})? \"}}\"");
        return name;
    }

    private string AnyArray()
    {
        if (_ruleByBody.TryGetValue("#array", out var name)) return name;
        name = NewName("array");
        _ruleByBody["#array"] = name;
        string value = AnyValue();
        Emit(name, $"\"[\" {Ws} ({value} ({Ws} \",\" {Ws} {value})* {Ws})? \"]\"");
        return name;
    }

    /// <summary>The GBNF expression (usually a rule name) for <paramref name="s"/> at JSON-pointer <paramref name="path"/>.</summary>
    private string Visit(JsonElement s, string hint, string path)
    {
        if (++_depth > 256) throw Error("the schema nests too deeply", null, path);
        try { return VisitInner(s, hint, path); }
        finally { _depth--; }
    }

    private string VisitInner(JsonElement s, string hint, string path)
    {
        if (s.ValueKind == JsonValueKind.True) return AnyValue();
        if (s.ValueKind == JsonValueKind.False) throw Error("the schema 'false' matches nothing", "false", path);
        if (s.ValueKind != JsonValueKind.Object) throw Error("a schema must be an object or a boolean", null, path);

        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in s.EnumerateObject())
        {
            if (Annotations.Contains(p.Name)) continue;
            if (!Known.Contains(p.Name)) throw Error($"keyword '{p.Name}' is not supported", p.Name, path);
            keys.Add(p.Name);
        }

        if (keys.Contains("$ref"))
        {
            if (keys.Count > 1) throw Error($"'$ref' beside '{keys.First(k => k != "$ref")}' is not supported", keys.First(k => k != "$ref"), path);
            return Ref(s.GetProperty("$ref"), path);
        }
        if (keys.Contains("allOf"))
        {
            var all = Array(s, "allOf", path);
            if (all.Length != 1 || keys.Count > 1) throw Error("'allOf' is supported only with a single schema and nothing beside it", "allOf", path);
            return Visit(all[0], hint, path + "/allOf/0");
        }
        foreach (var combinator in new[] { "anyOf", "oneOf" })
        {
            if (!keys.Contains(combinator)) continue;
            if (keys.Count > 1) throw Error($"'{combinator}' beside '{keys.First(k => k != combinator)}' is not supported", keys.First(k => k != combinator), path);
            var options = Array(s, combinator, path);
            if (options.Length == 0) throw Error($"'{combinator}' is empty", combinator, path);
            var alts = options.Select((o, i) => Visit(o, $"{hint}-{i}", $"{path}/{combinator}/{i}")).ToArray();
            return Rule(hint, string.Join(" | ", alts));
        }
        if (keys.Contains("const"))
        {
            CheckOnly(keys, path, "const", "type");
            return Rule(hint, JsonLiteral(s.GetProperty("const")));
        }
        if (keys.Contains("enum"))
        {
            CheckOnly(keys, path, "enum", "type");
            var values = s.GetProperty("enum");
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0) throw Error("'enum' must be a non-empty array", "enum", path);
            return Rule(hint, string.Join(" | ", values.EnumerateArray().Select(JsonLiteral)));
        }

        string[] types;
        if (s.TryGetProperty("type", out var t))
        {
            if (t.ValueKind == JsonValueKind.String) types = [t.GetString()!];
            else if (t.ValueKind == JsonValueKind.Array && t.GetArrayLength() > 0 && t.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String))
                types = t.EnumerateArray().Select(x => x.GetString()!).Distinct().ToArray();
            else throw Error("'type' must be a string or a non-empty array of strings", "type", path);
        }
        else
        {
            // No type: inferred from the keywords present, else any value.
            if (keys.Overlaps(["properties", "additionalProperties"])) types = ["object"];
            else if (keys.Overlaps(["items", "prefixItems", "minItems", "maxItems"])) types = ["array"];
            else if (keys.Overlaps(["minLength", "maxLength", "pattern", "format"])) types = ["string"];
            else if (keys.Overlaps(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"])) types = ["number"];
            else return AnyValue();
        }
        // Keywords must belong to one of the types present.
        foreach (var k in keys)
        {
            string? owner = k switch
            {
                "properties" or "required" or "additionalProperties" => "object",
                "items" or "prefixItems" or "minItems" or "maxItems" => "array",
                "minLength" or "maxLength" or "pattern" or "format" => "string",
                "minimum" or "maximum" or "exclusiveMinimum" or "exclusiveMaximum" => "number",
                _ => null,
            };
            if (owner is null) continue;
            if (!types.Contains(owner) && !(owner == "number" && types.Contains("integer")))
                throw Error($"keyword '{k}' does not apply to type {string.Join("/", types)}", k, path);
        }
        var parts = types.Select(type => type switch
        {
            "object" => Object(s, hint, path),
            "array" => ArrayType(s, hint, path),
            "string" => StringType(s, hint, path),
            "integer" => Numeric(s, hint, path, integer: true),
            "number" => Numeric(s, hint, path, integer: false),
            "boolean" => Rule("boolean", "\"true\" | \"false\""),
            "null" => Rule("null", "\"null\""),
            _ => throw Error($"unknown type '{type}'", "type", path),
        }).ToArray();
        return parts.Length == 1 ? parts[0] : Rule(hint, string.Join(" | ", parts));
    }

    private void CheckOnly(HashSet<string> keys, string path, params string[] allowed)
    {
        foreach (var k in keys)
            if (!allowed.Contains(k)) throw Error($"'{k}' beside '{allowed[0]}' is not supported", k, path);
    }

    private JsonElement[] Array(JsonElement s, string keyword, string path)
    {
        var v = s.GetProperty(keyword);
        if (v.ValueKind != JsonValueKind.Array) throw Error($"'{keyword}' must be an array", keyword, path);
        return v.EnumerateArray().ToArray();
    }

    private string Ref(JsonElement r, string path)
    {
        if (r.ValueKind != JsonValueKind.String) throw Error("'$ref' must be a string", "$ref", path);
        string target = r.GetString()!;
        if (_refRules.TryGetValue(target, out var name)) return name;
        JsonElement resolved;
        string hint;
        if (target == "#") { resolved = _root; hint = "root-ref"; }
        else if (target.StartsWith("#/$defs/", StringComparison.Ordinal) || target.StartsWith("#/definitions/", StringComparison.Ordinal))
        {
            var segments = target[2..].Split('/').Select(seg => seg.Replace("~1", "/").Replace("~0", "~")).ToArray();
            resolved = _root;
            foreach (var seg in segments)
            {
                if (resolved.ValueKind != JsonValueKind.Object || !resolved.TryGetProperty(seg, out var next))
                    throw Error($"'$ref' target '{target}' does not exist", "$ref", path);
                resolved = next;
            }
            hint = segments[^1];
        }
        else throw Error($"'$ref' to '{target}' is not supported (only '#', '#/$defs/…' and '#/definitions/…')", "$ref", path);
        // Name the rule before visiting, so recursion refers to it.
        name = NewName(hint);
        _refRules[target] = name;
        string body = Visit(resolved, hint, target);
        Emit(name, body);
        return name;
    }

    private string JsonLiteral(JsonElement v) => GbnfWriter.Literal(Canonical(v));

    /// <summary>Compact JSON for a value, strings escaped as the grammar writes them.</summary>
    private static string Canonical(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => GbnfWriter.JsonQuote(v.GetString()!),
        JsonValueKind.Number => v.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "[" + string.Join(",", v.EnumerateArray().Select(Canonical)) + "]",
        JsonValueKind.Object => "{" + string.Join(",", v.EnumerateObject().Select(p => GbnfWriter.JsonQuote(p.Name) + ":" + Canonical(p.Value))) + "}",
        _ => throw new InvalidOperationException(),
    };

    private string Object(JsonElement s, string hint, string path)
    {
        var props = new List<(string Name, string Value)>();
        var required = new HashSet<string>(StringComparer.Ordinal);
        bool hasProps = s.TryGetProperty("properties", out var propsEl);
        if (s.TryGetProperty("required", out var req))
        {
            if (req.ValueKind != JsonValueKind.Array || req.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
                throw Error("'required' must be an array of strings", "required", path);
            foreach (var x in req.EnumerateArray()) required.Add(x.GetString()!);
        }
        if (hasProps)
        {
            if (propsEl.ValueKind != JsonValueKind.Object) throw Error("'properties' must be an object", "properties", path);
            foreach (var p in propsEl.EnumerateObject())
                props.Add((p.Name, Visit(p.Value, $"{hint}-{p.Name}", $"{path}/properties/{p.Name}")));
        }
        foreach (var r in required)
            if (!props.Any(p => p.Name == r))
                throw Error($"required property '{r}' is not in 'properties'", "required", path);

        string? extra = null;
        if (s.TryGetProperty("additionalProperties", out var ap))
        {
            if (ap.ValueKind == JsonValueKind.False) extra = null;
            else
            {
                string value = ap.ValueKind == JsonValueKind.True ? AnyValue() : Visit(ap, $"{hint}-additional", path + "/additionalProperties");
                string key = OtherKey(props.Select(p => p.Name).ToArray(), hint);
                extra = $"{key} {Ws} \":\" {Ws} {value}";
            }
        }
        else if (!hasProps) return AnyObject();

        string ws = Ws;
        var kvs = props.Select(p => (Required: required.Contains(p.Name), Kv: $"{GbnfWriter.Literal(GbnfWriter.JsonQuote(p.Name))} {ws} \":\" {ws} {p.Value}")).ToList();
        // After[i]: the rest from property i on, when a property was already written (each item starts with a comma).
        // First[i]: the rest from property i on, when none was written yet.
        int n = kvs.Count;
        string after = extra is null ? "" : $"({ws} \",\" {ws} {extra})*";
        string first = extra is null ? "" : $"({extra} {after})?";
        if (kvs.All(k => k.Required))
        {
            var sb = new StringBuilder();
            for (int i = 0; i < n; i++) sb.Append(i == 0 ? kvs[i].Kv : $" {ws} \",\" {ws} {kvs[i].Kv}");
            string body = n == 0 ? first : after.Length > 0 ? $"{sb} {after}" : sb.ToString();
            return Rule(hint, body.Length == 0 ? $"\"{{\" {ws} \"}}\"" : $"\"{{\" {ws} {body} {ws} \"}}\"");
        }
        string afterName = after.Length == 0 ? "" : Rule($"{hint}-rest", after);
        string firstName = first.Length == 0 ? "" : Rule($"{hint}-first", first);
        for (int i = n - 1; i >= 0; i--)
        {
            var (isRequired, kv) = kvs[i];
            string afterBody = isRequired ? $"{ws} \",\" {ws} {kv} {afterName}".TrimEnd() : $"({ws} \",\" {ws} {kv})? {afterName}".TrimEnd();
            string firstBody = isRequired ? $"{kv} {afterName}".TrimEnd() : firstName.Length == 0 ? $"({kv} {afterName})?".Replace(" )", ")") : $"{kv} {afterName} | {firstName}";
            afterName = Rule($"{hint}-after-{i}", afterBody);
            firstName = Rule($"{hint}-from-{i}", firstBody);
        }
        return Rule(hint, $"\"{{\" {ws} {firstName} {ws} \"}}\"");
    }

    /// <summary>A JSON string that is none of <paramref name="names"/> (written without escapes, so no spelling of a name slips through).</summary>
    private string OtherKey(string[] names, string hint)
    {
        const string plain = "[^\"\\\\\\x00-\\x1F]";
        if (names.Length == 0) return Rule("key", $"\"\\\"\" {plain}* \"\\\"\"");
        // A trie over the names' characters: at each node, leave the names by a different character (then anything),
        // go on along a name, or close the string where no name ends.
        var root = new TrieNode();
        foreach (var name in names)
        {
            var node = root;
            foreach (var r in name.EnumerateRunes())
            {
                if (!node.Children.TryGetValue(r.Value, out var child)) node.Children[r.Value] = child = new TrieNode();
                node = child;
            }
            node.IsName = true;
        }
        string free = Rule($"{hint}-key-tail", $"{plain}* \"\\\"\"");
        int counter = 0;
        string Node(TrieNode node)
        {
            var options = new List<string>();
            if (!node.IsName) options.Add("\"\\\"\"");
            var others = CodePointSet.Of((0x20, CodePointSet.MaxCodePoint)).Minus(CodePointSet.Of(('"', '"'), ('\\', '\\')));
            foreach (var cp in node.Children.Keys) others = others.Minus(CodePointSet.Of((cp, cp)));
            if (!others.IsEmpty) options.Add($"{GbnfWriter.Class(others)} {free}");
            foreach (var (cp, child) in node.Children)
            {
                var sb = new StringBuilder("\"");
                GbnfWriter.AppendChar(sb, cp, inClass: false);
                sb.Append('"');
                if (cp is '"' or '\\' or < 0x20) continue; // such characters cannot appear unescaped; nothing to exclude
                options.Add($"{sb} {Node(child)}");
            }
            return Rule($"{hint}-key-{counter++}", string.Join(" | ", options));
        }
        return Rule($"{hint}-key", $"\"\\\"\" {Node(root)}");
    }

    private sealed class TrieNode
    {
        public readonly SortedDictionary<int, TrieNode> Children = [];
        public bool IsName;
    }

    private string ArrayType(JsonElement s, string hint, string path)
    {
        int min = IntKeyword(s, "minItems", path) ?? 0;
        int? max = IntKeyword(s, "maxItems", path);
        if (max is { } mx && mx < min) throw Error("'maxItems' is below 'minItems'", "maxItems", path);
        var prefix = new List<string>();
        if (s.TryGetProperty("prefixItems", out var pi))
        {
            if (pi.ValueKind != JsonValueKind.Array) throw Error("'prefixItems' must be an array", "prefixItems", path);
            int i = 0;
            foreach (var item in pi.EnumerateArray()) { prefix.Add(Visit(item, $"{hint}-{i}", $"{path}/prefixItems/{i}")); i++; }
        }
        string? item2 = null;
        if (s.TryGetProperty("items", out var items))
        {
            if (items.ValueKind == JsonValueKind.False) item2 = null;
            else item2 = Visit(items, $"{hint}-item", path + "/items");
        }
        else item2 = AnyValue();
        string ws = Ws;
        string sep = $"{ws} \",\" {ws}";
        // Elements: the prefix items in order (the array may stop after any of them once minItems is met), then items.
        int maxTotal = max ?? int.MaxValue;
        if (item2 is null) maxTotal = Math.Min(maxTotal, prefix.Count);
        if (min > maxTotal) throw Error("'minItems' cannot be met with 'items': false", "minItems", path);
        if (min > GbnfParser.RepeatLimit || (max is { } m2 && m2 > GbnfParser.RepeatLimit)) throw Error($"'minItems'/'maxItems' above {GbnfParser.RepeatLimit} are not supported", "maxItems", path);
        // Build from the end: Tail(k) = what may follow once k elements are written (each starting with a separator).
        string Tail(int k)
        {
            if (k >= maxTotal) return "";
            if (k < prefix.Count)
            {
                string rest = Tail(k + 1);
                string one = $"{sep} {prefix[k]} {rest}".TrimEnd();
                return k >= min ? $"({one})?" : one;
            }
            // Only the items schema from here: between max(0, min-k) and maxTotal-k more.
            int lo = Math.Max(0, min - k);
            string count = max is null ? (lo == 0 ? "*" : lo == 1 ? "+" : $"{{{lo},}}") : (lo == maxTotal - k ? $"{{{lo}}}" : $"{{{lo},{maxTotal - k}}}");
            if (count == "{0}") return "";
            return $"({sep} {item2}){count}";
        }
        string firstElem = prefix.Count > 0 ? prefix[0] : item2!;
        string body;
        if (maxTotal == 0) body = $"\"[\" {ws} \"]\"";
        else
        {
            string elems = $"{firstElem} {Tail(1)}".TrimEnd();
            body = min == 0 ? $"\"[\" {ws} ({elems} {ws})? \"]\"" : $"\"[\" {ws} {elems} {ws} \"]\"";
        }
        return Rule(hint, body);
    }

    private int? IntKeyword(JsonElement s, string keyword, string path)
    {
        if (!s.TryGetProperty(keyword, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int n) || n < 0) throw Error($"'{keyword}' must be a non-negative integer", keyword, path);
        return n;
    }

    private string StringType(JsonElement s, string hint, string path)
    {
        int min = IntKeyword(s, "minLength", path) ?? 0;
        int? max = IntKeyword(s, "maxLength", path);
        if (max is { } mx && mx < min) throw Error("'maxLength' is below 'minLength'", "maxLength", path);
        bool hasPattern = s.TryGetProperty("pattern", out var pattern);
        bool hasFormat = s.TryGetProperty("format", out var format);
        if ((hasPattern || hasFormat) && (min > 0 || max is not null))
            throw Error("'minLength'/'maxLength' together with 'pattern' or 'format' are not supported", hasPattern ? "pattern" : "format", path);
        if (hasPattern && hasFormat) throw Error("'pattern' together with 'format' is not supported", "format", path);
        if (hasPattern)
        {
            if (pattern.ValueKind != JsonValueKind.String) throw Error("'pattern' must be a string", "pattern", path);
            var parsed = RegexParser.Parse(pattern.GetString()!, _field);
            string inner = GbnfWriter.Write(parsed.Node, jsonString: true);
            string any = $"{StringChar}*";
            string body = $"\"\\\"\" {(parsed.AnchoredStart ? "" : any + " ")}{inner}{(parsed.AnchoredEnd ? "" : " " + any)} \"\\\"\"";
            return Rule(hint, body);
        }
        if (hasFormat)
        {
            string f = format.GetString() ?? "";
            string? fb = f switch
            {
                "date" => Date,
                "time" => Time,
                "date-time" => $"{Date} \"T\" {Time}",
                "uuid" => "[0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12}",
                "ipv4" => $"{Octet} \".\" {Octet} \".\" {Octet} \".\" {Octet}",
                _ => null,
            };
            if (fb is null) throw Error($"format '{f}' is not supported (date, time, date-time, uuid, ipv4 are)", "format", path);
            return Rule($"{f}-string", $"\"\\\"\" {fb} \"\\\"\"");
        }
        if (min == 0 && max is null) return StringRule;
        string count = max is null ? $"{{{min},}}" : min == max ? $"{{{min}}}" : $"{{{min},{max}}}";
        if (max > GbnfParser.RepeatLimit || min > GbnfParser.RepeatLimit) throw Error($"string lengths above {GbnfParser.RepeatLimit} are not supported", "maxLength", path);
        return Rule($"string-{min}-{max?.ToString(CultureInfo.InvariantCulture) ?? "inf"}", $"\"\\\"\" {StringChar}{count} \"\\\"\"");
    }

    private const string Octet = "(\"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9] [0-9] | [0-9])";
    private const string Date = "([0-9]{4} \"-\" (\"0\" [1-9] | \"1\" [0-2]) \"-\" (\"0\" [1-9] | [12] [0-9] | \"3\" [01]))";
    private const string Time = "(([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]+)? (\"Z\" | [+-] ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9]))";

    private string Numeric(JsonElement s, string hint, string path, bool integer)
    {
        decimal? Bound(string k)
        {
            if (!s.TryGetProperty(k, out var v)) return null;
            if (v.ValueKind != JsonValueKind.Number) throw Error($"'{k}' must be a number", k, path);
            if (!v.TryGetDecimal(out var d)) throw Error($"'{k}' = {v.GetRawText()} is outside the supported range", k, path);
            return d;
        }
        decimal? min = Bound("minimum"), max = Bound("maximum"), xmin = Bound("exclusiveMinimum"), xmax = Bound("exclusiveMaximum");
        // The tighter of each pair.
        (decimal? lo, bool loIncl) = (min, true);
        if (xmin is { } a && (lo is null || a >= lo)) (lo, loIncl) = (a, false);
        (decimal? hi, bool hiIncl) = (max, true);
        if (xmax is { } b && (hi is null || b <= hi)) (hi, hiIncl) = (b, false);
        string? body;
        if (integer)
        {
            BigInteger? ilo = lo is { } l ? (loIncl ? Ceiling(l) : Floor(l) + 1) : null;
            BigInteger? ihi = hi is { } h ? (hiIncl ? Floor(h) : Ceiling(h) - 1) : null;
            if (ilo is null && ihi is null) return Rule("integer", NumberGrammar.AnyInteger);
            body = NumberGrammar.Integer(ilo, ihi);
        }
        else
        {
            if (lo is null && hi is null) return NumberRule;
            body = NumberGrammar.Number(lo, loIncl, hi, hiIncl);
        }
        if (body is null) throw Error("no number satisfies the bounds", "minimum", path);
        return Rule(hint, body);
    }

    private static BigInteger Floor(decimal d) => new(decimal.Floor(d));
    private static BigInteger Ceiling(decimal d) => new(decimal.Ceiling(d));
}
