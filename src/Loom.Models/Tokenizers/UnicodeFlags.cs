using System.Globalization;

namespace Loom.Models.Tokenizers;

/// <summary>
/// Code point classes the way llama.cpp's tokenizer sees them: one general-category bit (\p{N}, \p{L}, ...)
/// plus the Unicode White_Space property. Private use and surrogates count as control, unassigned as undefined.
/// </summary>
internal static class UnicodeFlags
{
    public const ushort Undefined = 0x0001;
    public const ushort Number = 0x0002;
    public const ushort Letter = 0x0004;
    public const ushort Separator = 0x0008;
    public const ushort AccentMark = 0x0010;
    public const ushort Punctuation = 0x0020;
    public const ushort Symbol = 0x0040;
    public const ushort Control = 0x0080;
    public const ushort CategoryMask = 0x00FF;
    public const ushort Whitespace = 0x0100;

    public const int MaxCodePoint = 0x110000;

    private static readonly Lazy<ushort[]> Table = new(Build);

    /// <summary>Flags of a code point; 0 (no bit at all) beyond U+10FFFF, as llama.cpp returns for out-of-range positions.</summary>
    public static ushort Get(int cp) => (uint)cp < MaxCodePoint ? Table.Value[cp] : (ushort)0;

    public static bool IsWhitespace(int cp) => (Get(cp) & Whitespace) != 0;

    /// <summary>The simple lowercase mapping (UnicodeData field 13), identity when there is none.</summary>
    public static int ToLower(int cp)
    {
        if (cp < 0x80) return cp is >= 'A' and <= 'Z' ? cp + 32 : cp;
        if (cp < 0x10000) return char.IsSurrogate((char)cp) ? cp : char.ToLowerInvariant((char)cp);
        if (cp >= MaxCodePoint) return cp;
        var s = char.ConvertFromUtf32(cp).ToLowerInvariant();
        return char.ConvertToUtf32(s, 0);
    }

    private static ushort[] Build()
    {
        var t = new ushort[MaxCodePoint];
        for (int cp = 0; cp < MaxCodePoint; cp++) t[cp] = FromCategory(CharUnicodeInfo.GetUnicodeCategory(cp));
        foreach (var ws in WhitespaceSet()) t[ws] |= Whitespace;
        return t;
    }

    /// <summary>The White_Space property from the UCD's PropList.txt.</summary>
    private static IEnumerable<int> WhitespaceSet()
    {
        for (int c = 0x09; c <= 0x0D; c++) yield return c;
        for (int c = 0x2000; c <= 0x200A; c++) yield return c;
        foreach (var c in new[] { 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000 }) yield return c;
    }

    private static ushort FromCategory(UnicodeCategory c) => c switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Letter,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Number,
        UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => AccentMark,
        UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
            or UnicodeCategory.OtherPunctuation => Punctuation,
        UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol => Symbol,
        UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => Separator,
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse => Control,
        _ => Undefined,
    };

    /// <summary>Code points of a string; lone surrogates become U+FFFD, as invalid UTF-8 does in llama.cpp.</summary>
    public static int[] CodePoints(ReadOnlySpan<char> s)
    {
        var result = new int[s.Length];
        int n = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                result[n++] = char.ConvertToUtf32(c, s[i + 1]);
                i++;
            }
            else result[n++] = char.IsSurrogate(c) ? 0xFFFD : c;
        }
        return n == result.Length ? result : result[..n];
    }
}
