
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>Filters over sequences and mappings.</summary>
internal static partial class Filters
{
    private static object? ApplyCollection(Interpreter interpreter, string name, object? value, Arguments args)
    {
        // Jinja's select/reject/map start with "if value:", so None or undefined give an empty result.
        if (name is "select" or "reject" or "selectattr" or "rejectattr" or "map" && !Values.IsTruthy(value)) return new List<object?>();
        switch (name)
        {
            case "list": return Values.Iterate(value).ToList();
            case "first": return Values.Iterate(value) is { Count: > 0 } f ? f[0] : new Undefined("first");
            case "last": return Values.Iterate(value) is { Count: > 0 } l ? l[^1] : new Undefined("last");
            case "reverse":
                return value is string s ? string.Concat(Values.StringElements(s).Cast<string>().Reverse()) : Values.Iterate(value).Reverse().ToList();
            case "join":
            {
                var items = Values.Iterate(value);
                if (args.Get(1, "attribute") is { } attr) items = items.Select(i => Lookup(i, attr)).ToList();
                return Operators.CheckLength(string.Join(Methods.Str(args.Get(0, "d", "")), items.Select(Values.ToStr)));
            }
            case "items":
                return value switch
                {
                    PyDict d => d.Select(kv => (object?)new PyTuple { PyDict.Value(kv.Key), kv.Value }).ToList(),
                    Undefined => new List<object?>(),
                    _ => throw new ChatTemplateException($"can only get item pairs from a mapping, not {Values.TypeName(value)}"),
                };
            case "keys": return Values.Iterate(value).ToList();
            case "values": return value is PyDict dv ? dv.Values.ToList() : Values.Iterate(value).ToList();
            case "selectattr" or "rejectattr":
            {
                var attr = args.Get(0, "attr");
                bool keep = name == "selectattr";
                return Values.Iterate(value).Where(i => Check(interpreter, Lookup(i, attr), args.Skip(1)) == keep).ToList();
            }
            case "select" or "reject":
            {
                bool keep = name == "select";
                return Values.Iterate(value).Where(i => Check(interpreter, i, args) == keep).ToList();
            }
            case "map":
            {
                var items = Values.Iterate(value);
                if (args.Keywords.TryGetValue("attribute", out var attribute))
                {
                    bool hasDefault = args.Keywords.TryGetValue("default", out var def);
                    return items.Select(i => Lookup(i, attribute) is Undefined u && hasDefault ? def : Lookup(i, attribute)).ToList();
                }
                if (args.Positional.Count == 0) throw new ChatTemplateException("map needs a filter name or attribute=");
                string filter = Methods.Str(args.Positional[0]);
                var rest = args.Skip(1);
                return items.Select(i => Apply(interpreter, filter, i, rest)).ToList();
            }
            case "sort":
            {
                bool reverse = Values.IsTruthy(args.Get(0, "reverse", false));
                bool caseSensitive = Values.IsTruthy(args.Get(1, "case_sensitive", false));
                var attr = args.Get(2, "attribute");
                var items = Values.Iterate(value).ToList();
                var keys = items.Select(i => SortKey(attr is null ? i : Lookup(i, attr), caseSensitive)).ToList();
                var order = Enumerable.Range(0, items.Count).ToList();
                // List.Sort is unstable; order by (key, position) to keep Python's stable sort.
                order.Sort((a, b) =>
                {
                    int c = Values.Compare(keys[a], keys[b]);
                    if (reverse) c = -c;
                    return c != 0 ? c : a.CompareTo(b);
                });
                return order.Select(i => items[i]).ToList();
            }
            case "unique":
            {
                bool caseSensitive = Values.IsTruthy(args.Get(0, "case_sensitive", false));
                var attr = args.Get(1, "attribute");
                var seen = new List<object?>();
                var result = new List<object?>();
                foreach (var i in Values.Iterate(value))
                {
                    var key = SortKey(attr is null ? i : Lookup(i, attr), caseSensitive);
                    if (seen.Any(s => Values.PyEquals(s, key))) continue;
                    seen.Add(key);
                    result.Add(i);
                }
                return result;
            }
            case "min" or "max":
            {
                bool caseSensitive = Values.IsTruthy(args.Get(0, "case_sensitive", false));
                var attr = args.Get(1, "attribute");
                var items = Values.Iterate(value);
                if (items.Count == 0) return new Undefined(name);
                object? best = items[0];
                foreach (var i in items.Skip(1))
                {
                    int c = Values.Compare(SortKey(attr is null ? i : Lookup(i, attr), caseSensitive),
                        SortKey(attr is null ? best : Lookup(best, attr), caseSensitive));
                    if (name == "min" ? c < 0 : c > 0) best = i;
                }
                return best;
            }
            case "sum":
            {
                var attr = args.Get(0, "attribute");
                object? total = args.Get(1, "start", 0L);
                foreach (var i in Values.Iterate(value)) total = Operators.Binary("+", total, attr is null ? i : Lookup(i, attr));
                return total;
            }
            case "dictsort":
            {
                if (value is not PyDict d) throw new ChatTemplateException("dictsort expects a mapping");
                bool caseSensitive = Values.IsTruthy(args.Get(0, "case_sensitive", false));
                bool byValue = Methods.Str(args.Get(1, "by", "key")) == "value";
                bool reverse = Values.IsTruthy(args.Get(2, "reverse", false));
                var pairs = d.Select(kv => new PyTuple { PyDict.Value(kv.Key), kv.Value }).ToList();
                var sorted = pairs.OrderBy(p => SortKey(byValue ? p[1] : p[0], caseSensitive), Comparer<object?>.Create(Values.Compare)).ToList();
                if (reverse) sorted.Reverse();
                return sorted.Cast<object?>().ToList();
            }
            case "batch":
            {
                int size = Methods.ToInt(args.Get(0, "linecount"));
                if (size <= 0) throw new ChatTemplateException("batch size must be positive");
                bool fill = args.Has(1, "fill_with");
                var result = new List<object?>();
                List<object?>? current = null;
                foreach (var i in Values.Iterate(value))
                {
                    current ??= new List<object?>();
                    current.Add(i);
                    if (current.Count == size) { result.Add(current); current = null; }
                }
                if (current is not null)
                {
                    while (fill && current.Count < size) current.Add(args.Get(1, "fill_with"));
                    result.Add(current);
                }
                return result;
            }
            case "slice": return Slice(Values.Iterate(value), Methods.ToInt(args.Get(0, "slices")), args.Get(1, "fill_with"));
            default:
                throw new ChatTemplateException($"no filter named '{name}'");
        }
    }

    /// <summary>Jinja's <c>slice</c>: <paramref name="slices"/> lists of consecutive items, the first ones one longer when they do not divide evenly.</summary>
    private static List<object?> Slice(IReadOnlyList<object?> seq, int slices, object? fillWith)
    {
        if (slices <= 0) throw new ChatTemplateException("slice needs a positive number of slices");
        int per = seq.Count / slices, extra = seq.Count % slices, offset = 0;
        var result = new List<object?>();
        for (int n = 0; n < slices; n++)
        {
            int start = offset + n * per;
            if (n < extra) offset++;
            int end = offset + (n + 1) * per;
            var part = seq.Skip(start).Take(end - start).ToList();
            if (fillWith is not null && n >= extra) part.Add(fillWith);
            result.Add(part);
        }
        return result;
    }

    /// <summary>Jinja's attribute getter: dotted paths (<c>"function.name"</c>), integers index lists.</summary>
    private static object? Lookup(object? item, object? attribute)
    {
        if (attribute is long index) return Interpreter.GetItem(item, index);
        foreach (var part in Methods.Str(attribute).Split('.'))
            item = long.TryParse(part, out long i) ? Interpreter.GetItem(item, i) : Interpreter.GetItem(item, part);
        return item;
    }

    /// <summary>Runs the test named by the first argument (truthiness when there is none).</summary>
    private static bool Check(Interpreter interpreter, object? value, Arguments args)
    {
        if (args.Positional.Count == 0) return Values.IsTruthy(value);
        return Tests.Apply(interpreter, Methods.Str(args.Positional[0]), value, args.Skip(1));
    }

    private static object? SortKey(object? v, bool caseSensitive) => !caseSensitive && v is string s ? s.ToLowerInvariant() : v;
}
