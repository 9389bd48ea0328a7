using System.Globalization;

namespace Loom.Models.ChatTemplates.Runtime;

/// <summary>Python's float <c>repr</c>: shortest round-trip digits, fixed notation for exponents in [-4, 16).</summary>
internal static class PyFloat
{
    public static string Repr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";

        string r = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        string digits;
        int exp;
        int e = r.IndexOf('E');
        if (e >= 0)
        {
            string mantissa = r[..e];
            exp = int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture);
            digits = mantissa.Replace(".", "");
        }
        else
        {
            int dot = r.IndexOf('.');
            string intPart = dot < 0 ? r : r[..dot];
            string frac = dot < 0 ? "" : r[(dot + 1)..];
            if (intPart.TrimStart('0').Length > 0)
            {
                exp = intPart.TrimStart('0').Length - 1;
                digits = intPart.TrimStart('0') + frac;
            }
            else
            {
                int zeros = frac.Length - frac.TrimStart('0').Length;
                exp = -(zeros + 1);
                digits = frac.TrimStart('0');
            }
        }
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) digits = "0";

        string sign = d < 0 ? "-" : "";
        if (exp >= -4 && exp < 16)
        {
            if (exp >= 0)
            {
                string whole = digits.Length > exp + 1 ? digits[..(exp + 1)] : digits.PadRight(exp + 1, '0');
                string rest = digits.Length > exp + 1 ? digits[(exp + 1)..] : "0";
                return $"{sign}{whole}.{rest}";
            }
            return $"{sign}0.{new string('0', -exp - 1)}{digits}";
        }
        string m = digits.Length > 1 ? digits[0] + "." + digits[1..] : digits;
        return $"{sign}{m}e{(exp < 0 ? "-" : "+")}{Math.Abs(exp):00}";
    }
}
