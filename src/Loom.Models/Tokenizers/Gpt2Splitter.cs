namespace Loom.Models.Tokenizers;

/// <summary>
/// Hand-written matcher for GPT-2's pattern
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>, as llama.cpp runs it
/// (code points, llama.cpp's category table). The general <see cref="RegexSplitter"/> is the reference it is tested against.
/// </summary>
internal static class Gpt2Splitter
{
    public const string Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

    public static List<int> Split(int[] cpts, List<int> chunks)
    {
        var result = new List<int>(chunks.Count);
        int start = 0;
        foreach (int chunk in chunks)
        {
            int ini = start, end = start + chunk;
            start = end;
            int prevEnd = ini;
            int Cpt(int p) => p >= ini && p < end ? cpts[p] : -1;
            ushort Flags(int p) => p >= ini && p < end ? UnicodeFlags.Get(cpts[p]) : (ushort)0;
            int Add(int e) { int len = e - prevEnd; if (len > 0) result.Add(len); prevEnd = e; return len; }

            for (int pos = ini; pos < end;)
            {
                int cpt = Cpt(pos);
                ushort flags = Flags(pos);

                if (cpt == '\'' && pos + 1 < end)
                {
                    int next = Cpt(pos + 1);
                    if (next is 's' or 't' or 'm' or 'd') { pos += Add(pos + 2); continue; }
                    if (pos + 2 < end)
                    {
                        int next2 = Cpt(pos + 2);
                        if ((next == 'r' && next2 == 'e') || (next == 'v' && next2 == 'e') || (next == 'l' && next2 == 'l'))
                        { pos += Add(pos + 3); continue; }
                    }
                }

                ushort f2 = cpt == ' ' ? Flags(pos + 1) : flags;
                if ((f2 & UnicodeFlags.Letter) != 0)
                {
                    if (cpt == ' ') pos++;
                    while ((f2 & UnicodeFlags.Letter) != 0) f2 = Flags(++pos);
                    Add(pos);
                    continue;
                }
                if ((f2 & UnicodeFlags.Number) != 0)
                {
                    if (cpt == ' ') pos++;
                    while ((f2 & UnicodeFlags.Number) != 0) f2 = Flags(++pos);
                    Add(pos);
                    continue;
                }
                if (IsOther(f2))
                {
                    if (cpt == ' ') pos++;
                    while (IsOther(f2)) f2 = Flags(++pos);
                    Add(pos);
                    continue;
                }

                int ws = 0;
                while ((Flags(pos + ws) & UnicodeFlags.Whitespace) != 0) ws++;
                if (ws > 1 && Cpt(pos + ws) != -1) { pos += ws - 1; Add(pos); continue; }
                if (ws > 0) { pos += ws; Add(pos); continue; }
                Add(++pos);
            }
        }
        return result;
    }

    /// <summary>[^\s\p{L}\p{N}] at a position inside the chunk (flags 0 means outside).</summary>
    internal static bool IsOther(ushort f) =>
        (f & (UnicodeFlags.Whitespace | UnicodeFlags.Letter | UnicodeFlags.Number)) == 0 && f != 0;
}
