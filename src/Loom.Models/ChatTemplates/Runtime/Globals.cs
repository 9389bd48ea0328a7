
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>Global functions: Jinja's (<c>range</c>, <c>namespace</c>, <c>dict</c>) and Hugging Face's
/// (<c>raise_exception</c>, <c>strftime_now</c>).</summary>
internal static class Globals
{
    public static void AddTo(Scope scope, Func<DateTime> clock)
    {
        scope.Set("raise_exception", new BuiltinFunction("raise_exception", (_, a) =>
            throw new ChatTemplateException(Values.ToStr(a.Get(0, "message", ""))) { RaisedByTemplate = true }));
        scope.Set("strftime_now", new BuiltinFunction("strftime_now", (_, a) => Strftime.Format(clock(), Methods.Str(a.Get(0, "format", "")))));
        scope.Set("range", new BuiltinFunction("range", (_, a) => Range(a)));
        scope.Set("namespace", new BuiltinFunction("namespace", (_, a) =>
        {
            var ns = new Namespace();
            foreach (var p in a.Positional)
            {
                if (p is not PyDict d) throw new ChatTemplateException("namespace() takes keyword arguments or a dict");
                foreach (var (k, v) in d) ns.Attributes[Values.ToStr(PyDict.Value(k))] = v;
            }
            foreach (var (k, v) in a.Keywords) ns.Attributes[k] = v;
            return ns;
        }));
        scope.Set("dict", new BuiltinFunction("dict", (_, a) =>
        {
            var d = new PyDict();
            foreach (var p in a.Positional)
            {
                if (p is PyDict m) foreach (var (k, v) in m) d[k] = v;
                else throw new ChatTemplateException("dict() takes keyword arguments or a dict");
            }
            foreach (var (k, v) in a.Keywords) d[k] = v;
            return d;
        }));
    }

    private static List<object?> Range(Arguments a)
    {
        long start = 0, stop, step = 1;
        var p = a.Positional;
        if (p.Count == 1) stop = Int(p[0]);
        else if (p.Count is 2 or 3)
        {
            start = Int(p[0]);
            stop = Int(p[1]);
            if (p.Count == 3) step = Int(p[2]);
        }
        else throw new ChatTemplateException($"range expected 1 to 3 arguments, got {p.Count}");
        if (step == 0) throw new ChatTemplateException("range() arg 3 must not be zero");
        long count = step > 0 ? (stop - start + step - 1) / step : (start - stop - step - 1) / -step;
        if (count > RenderLimits.MaxSteps) throw new ChatTemplateException($"range() of {count} items is too large");
        var result = new List<object?>((int)Math.Max(0, count));
        for (long i = 0; i < count; i++) result.Add(start + i * step);
        return result;
    }

    private static long Int(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new ChatTemplateException($"'{Values.TypeName(v)}' object cannot be interpreted as an integer"),
    };
}
