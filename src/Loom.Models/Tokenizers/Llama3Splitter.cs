namespace Loom.Models.Tokenizers;

/// <summary>
/// Hand-written matcher for the Llama 3 pattern
/// <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>,
/// as llama.cpp runs it. The general <see cref="RegexSplitter"/> is the reference it is tested against.
/// </summary>
internal static class Llama3Splitter
{
    public const string Pattern = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    public const string PatternCaseInsensitive = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

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
                    int next = UnicodeFlags.ToLower(Cpt(pos + 1));
                    if (next is 's' or 't' or 'm' or 'd') { pos += Add(pos + 2); continue; }
                    if (pos + 2 < end)
                    {
                        int next2 = UnicodeFlags.ToLower(Cpt(pos + 2));
                        if ((next == 'r' && next2 == 'e') || (next == 'v' && next2 == 'e') || (next == 'l' && next2 == 'l'))
                        { pos += Add(pos + 3); continue; }
                    }
                }

                if (!(cpt == '\r' || cpt == '\n' || (flags & UnicodeFlags.Number) != 0))
                {
                    if ((flags & UnicodeFlags.Letter) != 0 || (Flags(pos + 1) & UnicodeFlags.Letter) != 0)
                    {
                        pos++;
                        while ((Flags(pos) & UnicodeFlags.Letter) != 0) pos++;
                        Add(pos);
                        continue;
                    }
                }

                if ((flags & UnicodeFlags.Number) != 0)
                {
                    int numStart = pos;
                    while ((Flags(pos) & UnicodeFlags.Number) != 0)
                    {
                        if (++pos - numStart >= 3) { Add(pos); numStart = pos; }
                    }
                    Add(pos);
                    continue;
                }

                ushort f2 = cpt == ' ' ? Flags(pos + 1) : flags;
                // llama.cpp tests the first code point's own flags for being in range here, not f2's.
                if ((f2 & (UnicodeFlags.Whitespace | UnicodeFlags.Letter | UnicodeFlags.Number)) == 0 && flags != 0)
                {
                    if (cpt == ' ') pos++;
                    while (Gpt2Splitter.IsOther(f2)) f2 = Flags(++pos);
                    int c2 = Cpt(pos);
                    while (c2 is '\r' or '\n') c2 = Cpt(++pos);
                    Add(pos);
                    continue;
                }

                int ws = 0, lastNewlineEnd = 0;
                while ((Flags(pos + ws) & UnicodeFlags.Whitespace) != 0)
                {
                    int c2 = Cpt(pos + ws);
                    if (c2 is '\r' or '\n') lastNewlineEnd = pos + ws + 1;
                    ws++;
                }
                if (lastNewlineEnd > 0) { pos = lastNewlineEnd; Add(pos); continue; }
                if (ws > 1 && Cpt(pos + ws) != -1) { pos += ws - 1; Add(pos); continue; }
                if (ws > 0) { pos += ws; Add(pos); continue; }
                Add(++pos);
            }
        }
        return result;
    }
}
