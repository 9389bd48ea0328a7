
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>Python's <c>seq[start:stop:step]</c> for lists and strings.</summary>
internal static class Slicing
{
    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        switch (target)
        {
            case PyTuple tuple:
                return new PyTuple(Pick(tuple, start, stop, step));
            case List<object?> list:
                return Pick(list, start, stop, step);
            case string s:
                return string.Concat(Pick(Values.StringElements(s), start, stop, step).Cast<string>());
            case Undefined u:
                return u;
            default:
                throw new ChatTemplateException($"'{Values.TypeName(target)}' object is not subscriptable");
        }
    }

    private static List<object?> Pick(List<object?> items, object? start, object? stop, object? step)
    {
        long n = items.Count;
        long st = step is null ? 1 : ToIndex(step);
        if (st == 0) throw new ChatTemplateException("slice step cannot be zero");
        long lo, hi;
        if (st > 0)
        {
            lo = start is null ? 0 : Clamp(ToIndex(start), n, 0, n);
            hi = stop is null ? n : Clamp(ToIndex(stop), n, 0, n);
        }
        else
        {
            lo = start is null ? n - 1 : Clamp(ToIndex(start), n, -1, n - 1);
            hi = stop is null ? -1 : Clamp(ToIndex(stop), n, -1, n - 1);
        }
        var result = new List<object?>();
        if (st > 0)
            for (long i = lo; i < hi; i += st) result.Add(items[(int)i]);
        else
            for (long i = lo; i > hi; i += st) result.Add(items[(int)i]);
        return result;
    }

    private static long Clamp(long i, long n, long min, long max)
    {
        if (i < 0) i += n;
        return Math.Clamp(i, min, max);
    }

    private static long ToIndex(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new ChatTemplateException($"slice indices must be integers or None, not {Values.TypeName(v)}"),
    };
}
