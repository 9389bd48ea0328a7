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
        if (cp == 0x130) return 'i'; // UnicodeData's simple mapping; invariant casing keeps the dotted I
        if ((uint)cp < MaxCodePoint && (Table.Value[cp] & Undefined) != 0) return cp;
        if (cp < 0x10000) return char.IsSurrogate((char)cp) ? cp : char.ToLowerInvariant((char)cp);
        if (cp >= MaxCodePoint) return cp;
        var s = char.ConvertFromUtf32(cp).ToLowerInvariant();
        return char.ConvertToUtf32(s, 0);
    }

    private static ushort[] Build()
    {
        var t = new ushort[MaxCodePoint];
        for (int cp = 0; cp < MaxCodePoint; cp++) t[cp] = FromCategory(CharUnicodeInfo.GetUnicodeCategory(cp));
        for (int i = 0; i < AssignedInUnicode16.Length; i += 2)
            for (int cp = AssignedInUnicode16[i]; cp <= AssignedInUnicode16[i + 1]; cp++) t[cp] = Undefined;
        foreach (var ws in WhitespaceSet()) t[ws] |= Whitespace;
        return t;
    }

    /// <summary>
    /// Inclusive ranges first assigned in Unicode 16.0. llama.cpp's tables predate it and call them unassigned;
    /// .NET knows them, so they are reset to keep tokenization identical.
    /// </summary>
    private static readonly int[] AssignedInUnicode16 =
    [
        0x897, 0x897, 0x1B4E, 0x1B4F, 0x1B7F, 0x1B7F, 0x1C89, 0x1C8A, 0x2427, 0x2429, 0x31E4, 0x31E5,
        0xA7CB, 0xA7CD, 0xA7DA, 0xA7DC, 0x105C0, 0x105F3, 0x10D40, 0x10D65, 0x10D69, 0x10D85, 0x10D8E, 0x10D8F,
        0x10EC2, 0x10EC4, 0x10EFC, 0x10EFC, 0x11380, 0x11389, 0x1138B, 0x1138B, 0x1138E, 0x1138E, 0x11390, 0x113B5,
        0x113B7, 0x113C0, 0x113C2, 0x113C2, 0x113C5, 0x113C5, 0x113C7, 0x113CA, 0x113CC, 0x113D5, 0x113D7, 0x113D8,
        0x113E1, 0x113E2, 0x116D0, 0x116E3, 0x11BC0, 0x11BE1, 0x11BF0, 0x11BF9, 0x11F5A, 0x11F5A, 0x13460, 0x143FA,
        0x16100, 0x16139, 0x16D40, 0x16D79, 0x18CFF, 0x18CFF, 0x1CC00, 0x1CCF9, 0x1CD00, 0x1CEB3, 0x1E5D0, 0x1E5FA,
        0x1E5FF, 0x1E5FF, 0x1F8B2, 0x1F8BB, 0x1F8C0, 0x1F8C1, 0x1FA89, 0x1FA89, 0x1FA8F, 0x1FA8F, 0x1FABE, 0x1FABE,
        0x1FAC6, 0x1FAC6, 0x1FADC, 0x1FADC, 0x1FADF, 0x1FADF, 0x1FAE9, 0x1FAE9, 0x1FBCB, 0x1FBEF,
    ];

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
