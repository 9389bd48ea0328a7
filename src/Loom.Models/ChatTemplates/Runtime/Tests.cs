
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>Jinja tests: the right-hand side of <c>x is name(args)</c>.</summary>
internal static class Tests
{
    public static bool Apply(Interpreter interpreter, string name, object? value, Arguments args)
    {
        object? Arg() => args.Get(0, "value", new Undefined("argument"));
        switch (name)
        {
            case "defined": return value is not Undefined;
            case "undefined": return value is Undefined;
            case "none": return value is null;
            case "boolean": return value is bool;
            case "true": return value is true;
            case "false": return value is false;
            case "string": return value is string;
            case "number": return value is long or double;
            case "integer": return value is long;
            case "float": return value is double;
            case "mapping": return value is PyDict;
            case "sequence": return value is string or List<object?> or PyDict;
            case "iterable": return value is string or List<object?> or PyDict;
            case "callable": return value is Callable;
            case "odd": return AsLong(value) % 2 != 0;
            case "even": return AsLong(value) % 2 == 0;
            case "divisibleby":
                long d = AsLong(Arg());
                return d != 0 && AsLong(value) % d == 0;
            case "eq" or "equalto" or "==": return Values.PyEquals(value, Arg());
            case "ne" or "!=": return !Values.PyEquals(value, Arg());
            case "lt" or "lessthan" or "<": return Values.Compare(value, Arg()) < 0;
            case "le" or "<=": return Values.Compare(value, Arg()) <= 0;
            case "gt" or "greaterthan" or ">": return Values.Compare(value, Arg()) > 0;
            case "ge" or ">=": return Values.Compare(value, Arg()) >= 0;
            case "in": return Values.Contains(Arg(), value);
            case "sameas": return ReferenceEquals(value, Arg()) || (value is null && Arg() is null) || (value is bool a && Arg() is bool b && a == b);
            case "lower": return value is string s && s == s.ToLowerInvariant();
            case "upper": return value is string u && u == u.ToUpperInvariant();
            case "filter": return Arg() is string f && Filters.Exists(f);
            case "test": return Arg() is string t && Exists(t);
            default: throw new ChatTemplateException($"no test named '{name}'");
        }
    }

    private static readonly HashSet<string> Names = new()
    {
        "defined", "undefined", "none", "boolean", "true", "false", "string", "number", "integer", "float", "mapping",
        "sequence", "iterable", "callable", "odd", "even", "divisibleby", "eq", "equalto", "ne", "lt", "lessthan", "le",
        "gt", "greaterthan", "ge", "in", "sameas", "lower", "upper", "filter", "test", "==", "!=", "<", "<=", ">", ">=",
    };

    public static bool Exists(string name) => Names.Contains(name);

    private static long AsLong(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d when d == Math.Floor(d) => (long)d,
        _ => throw new ChatTemplateException($"expected an integer, got {Values.TypeName(v)}"),
    };
}
