namespace Loom.Models.Tokenizers;

/// <summary>A stretch of input: raw text to tokenize (<see cref="Token"/> = -1) or a special token found in it.</summary>
internal readonly record struct Fragment(int Token, int Offset, int Length)
{
    public bool IsText => Token < 0;
}

/// <summary>
/// llama.cpp's tokenizer_st_partition: carves special tokens (longest text first) out of the raw text before the
/// model's own encoder sees it. User-defined tokens are always carved out; control and unknown tokens only when
/// parsing specials. LSTRIP/RSTRIP tokens swallow ASCII whitespace beside them.
/// </summary>
internal sealed class SpecialTokenPartitioner(Vocabulary vocab, int[] specialsLongestFirst)
{
    public List<Fragment> Partition(string text, bool parseSpecial)
    {
        var fragments = new List<Fragment>();
        if (text.Length == 0) return fragments;
        fragments.Add(new Fragment(-1, 0, text.Length));
        foreach (int id in specialsLongestFirst)
        {
            var attr = vocab.Attributes[id];
            if (!parseSpecial && (attr & (TokenAttributes.Control | TokenAttributes.Unknown)) != 0) continue;
            string special = vocab.Tokens[id];
            List<Fragment>? next = null;
            for (int f = 0; f < fragments.Count; f++)
            {
                var frag = fragments[f];
                if (!frag.IsText) { next?.Add(frag); continue; }
                int offset = frag.Offset, length = frag.Length;
                int match = length >= special.Length ? text.IndexOf(special, offset, length, StringComparison.Ordinal) : -1;
                if (match < 0) { next?.Add(frag); continue; }
                next ??= fragments.GetRange(0, f);
                while (true)
                {
                    if (match > offset)
                    {
                        int leftLength = match - offset;
                        if ((attr & TokenAttributes.LStrip) != 0)
                            while (leftLength > 0 && IsCSpace(text[offset + leftLength - 1])) leftLength--;
                        if (leftLength > 0) next.Add(new Fragment(-1, offset, leftLength));
                    }
                    next.Add(new Fragment(id, 0, 0));
                    int rightOffset = match + special.Length;
                    int rightLength = offset + length - rightOffset;
                    if (rightLength <= 0) break;
                    if ((attr & TokenAttributes.RStrip) != 0)
                        while (rightLength > 0 && IsCSpace(text[rightOffset])) { rightOffset++; rightLength--; }
                    offset = rightOffset;
                    length = rightLength;
                    match = length >= special.Length ? text.IndexOf(special, offset, length, StringComparison.Ordinal) : -1;
                    if (match < 0)
                    {
                        if (length > 0) next.Add(new Fragment(-1, offset, length));
                        break;
                    }
                }
            }
            if (next is not null) fragments = next;
        }
        return fragments;
    }

    /// <summary>C's isspace in the "C" locale, applied per byte; non-ASCII characters never qualify.</summary>
    private static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';
}
