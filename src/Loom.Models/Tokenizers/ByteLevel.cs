namespace Loom.Models.Tokenizers;

/// <summary>
/// GPT-2's reversible byte to printable-character mapping: printable Latin-1 bytes stand for themselves,
/// the other 68 bytes take U+0100 onwards in byte order.
/// </summary>
internal static class ByteLevel
{
    public static readonly char[] ByteToChar = BuildForward();
    private static readonly Dictionary<char, byte> CharToByteMap = BuildReverse();

    private static char[] BuildForward()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= 0x21 and <= 0x7E or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static Dictionary<char, byte> BuildReverse()
    {
        var d = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++) d[ByteToChar[b]] = (byte)b;
        return d;
    }

    public static bool TryCharToByte(char c, out byte b) => CharToByteMap.TryGetValue(c, out b);

    /// <summary>Encodes the UTF-8 bytes of a code point range as byte-level characters.</summary>
    public static string Encode(ReadOnlySpan<int> codePoints)
    {
        var sb = new System.Text.StringBuilder(codePoints.Length * 2);
        Span<byte> bytes = stackalloc byte[4];
        foreach (int cp in codePoints)
        {
            int n = new System.Text.Rune(cp).EncodeToUtf8(bytes);
            for (int i = 0; i < n; i++) sb.Append(ByteToChar[bytes[i]]);
        }
        return sb.ToString();
    }
}
