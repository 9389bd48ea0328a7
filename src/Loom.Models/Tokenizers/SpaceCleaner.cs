namespace Loom.Models.Tokenizers;

/// <summary>
/// llama.cpp's clean_spaces pass on detokenized bytes: drops the space in " ?", " !", " .", " ,", both spaces of " ' ",
/// and the space before 's, 'm, 're and 've. Three passes over the bytes, each looking only at near neighbours.
/// </summary>
internal static class SpaceCleaner
{
    public static int Clean(Span<byte> t)
    {
        int n = t.Length;
        if (n == 0) return 0;
        int total = 1;
        for (int i = 1; i < n; i++)
        {
            byte x = t[i];
            if (t[i - 1] == ' ' && x is (byte)'?' or (byte)'!' or (byte)'.' or (byte)',') total--;
            t[total++] = x;
        }
        n = total; total = 1;
        for (int i = 1; i < n; i++)
        {
            byte x = t[i];
            if (x == '\'' && i + 1 < n && t[i - 1] == ' ' && t[i + 1] == ' ')
            {
                total--;
                t[++i] = 0;
            }
            t[total++] = x;
        }
        n = total; total = 1;
        for (int i = 1; i < n; i++)
        {
            byte x = t[i];
            if (t[i - 1] == ' ' && x == '\'' && i + 1 < n)
            {
                byte x1 = t[i + 1];
                if (x1 is (byte)'s' or (byte)'m') total--;
                else if (i + 2 < n)
                {
                    byte x2 = t[i + 2];
                    if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) total--;
                }
            }
            t[total++] = x;
        }
        return total;
    }

    /// <summary>
    /// True when cleaning can be cut just before <paramref name="k"/>: the four bytes k-3..k hold no space, so no
    /// decision on either side looks across the cut, and the byte at k is kept like the first byte of a fresh run.
    /// </summary>
    public static bool IsCutPoint(ReadOnlySpan<byte> t, int k) =>
        k >= 3 && k < t.Length && t[k - 3] != ' ' && t[k - 2] != ' ' && t[k - 1] != ' ' && t[k] != ' ';
}
