
namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>Python's binary operators over template values, raising where Python would raise TypeError.</summary>
internal static class Operators
{
    public static object? Binary(string op, object? a, object? b)
    {
        switch (op)
        {
            case "==": return Values.PyEquals(a, b);
            case "!=": return !Values.PyEquals(a, b);
            case "<": return Values.Compare(Defined(a), Defined(b)) < 0;
            case "<=": return Values.Compare(Defined(a), Defined(b)) <= 0;
            case ">": return Values.Compare(Defined(a), Defined(b)) > 0;
            case ">=": return Values.Compare(Defined(a), Defined(b)) >= 0;
            case "in": return Values.Contains(b, a);
            case "not in": return !Values.Contains(b, a);
            case "~": return CheckLength(Values.ToStr(a) + Values.ToStr(b));
        }

        a = Defined(a);
        b = Defined(b);
        if (Values.IsNumber(a) && Values.IsNumber(b)) return Arithmetic(op, a, b);
        switch (op)
        {
            case "+" when a is string sa && b is string sb:
                return CheckLength(sa + sb);
            case "+" when a is List<object?> la && b is List<object?> lb:
                if (la.Count + (long)lb.Count > RenderLimits.MaxLength) throw TooLong();
                return la.Concat(lb).ToList();
            case "*" when a is string s && b is long or bool:
                return Repeat(s, b);
            case "*" when b is string s && a is long or bool:
                return Repeat(s, a);
            case "*" when a is List<object?> l && b is long or bool:
                return RepeatList(l, b);
            case "%" when a is string format:
                // Python's printf-style formatting: a tuple gives the arguments, anything else is the one argument.
                return CheckLength(PercentFormat.Format(format, b is PyTuple t ? t : new List<object?> { b }));
            case "+" when a is string:
                throw new ChatTemplateException($"can only concatenate str (not \"{Values.TypeName(b)}\") to str");
        }
        throw new ChatTemplateException($"unsupported operand type(s) for {op}: '{Values.TypeName(a)}' and '{Values.TypeName(b)}'");
    }

    public static object? Negate(object? v) => Defined(v) switch
    {
        long l => (object)checked(-l),
        double d => -d,
        bool b => b ? -1L : 0L,
        _ => throw new ChatTemplateException($"bad operand type for unary -: '{Values.TypeName(v)}'"),
    };

    /// <summary>Arithmetic on undefined is an error, as with Jinja's default Undefined.</summary>
    private static object? Defined(object? v) =>
        v is Undefined u ? throw new ChatTemplateException($"'{u.Name}' is undefined") : v;

    private static object Arithmetic(string op, object? a, object? b)
    {
        bool floats = a is double || b is double;
        if (op == "/")
        {
            double den = Values.ToDouble(b);
            if (den == 0) throw new ChatTemplateException("division by zero");
            return Values.ToDouble(a) / den;
        }
        if (floats)
        {
            double x = Values.ToDouble(a), y = Values.ToDouble(b);
            return op switch
            {
                "+" => x + y,
                "-" => x - y,
                "*" => x * y,
                "//" => y == 0 ? throw new ChatTemplateException("float floor division by zero") : Math.Floor(x / y),
                "%" => y == 0 ? throw new ChatTemplateException("float modulo") : x - y * Math.Floor(x / y),
                "**" => Math.Pow(x, y),
                _ => throw new ChatTemplateException($"unknown operator {op}"),
            };
        }
        long i = (long)Values.ToDouble(a), j = (long)Values.ToDouble(b);
        checked
        {
            switch (op)
            {
                case "+": return i + j;
                case "-": return i - j;
                case "*": return i * j;
                case "//":
                    if (j == 0) throw new ChatTemplateException("integer division or modulo by zero");
                    return FloorDiv(i, j);
                case "%":
                    if (j == 0) throw new ChatTemplateException("integer division or modulo by zero");
                    return i - j * FloorDiv(i, j);
                case "**":
                    if (j < 0) return Math.Pow(i, j);
                    long r = 1;
                    for (long k = 0; k < j; k++)
                    {
                        r *= i;
                        if (r == 0 || r == 1 && i == 1) break;
                    }
                    return r;
                default:
                    throw new ChatTemplateException($"unknown operator {op}");
            }
        }
    }

    private static long FloorDiv(long i, long j)
    {
        long q = i / j;
        if ((i % j != 0) && ((i < 0) != (j < 0))) q--;
        return q;
    }

    private static string Repeat(string s, object? count)
    {
        long n = count is bool b ? (b ? 1 : 0) : (long)count!;
        if (n <= 0 || s.Length == 0) return "";
        if (s.Length * n > RenderLimits.MaxLength) throw TooLong();
        return string.Concat(Enumerable.Repeat(s, (int)n));
    }

    private static List<object?> RepeatList(List<object?> l, object? count)
    {
        long n = count is bool b ? (b ? 1 : 0) : (long)count!;
        if (n <= 0) return new List<object?>();
        if (l.Count * n > RenderLimits.MaxLength) throw TooLong();
        var result = new List<object?>();
        for (long i = 0; i < n; i++) result.AddRange(l);
        return result;
    }

    internal static string CheckLength(string s) => s.Length > RenderLimits.MaxLength ? throw TooLong() : s;

    private static ChatTemplateException TooLong() => new($"value longer than {RenderLimits.MaxLength} elements");
}
