using System.Text;

namespace Loom.Models.Tokenizers;

/// <summary>
/// llama2.c's <c>tokenizer.bin</c>: int32 max token length, then per token a float32 score, an int32 byte length and
/// the bytes. Read into an SPM vocabulary the way llama.cpp's converter lays it out: spaces become ▁, BOS/EOS are
/// &lt;s&gt;/&lt;/s&gt;, &lt;0xXX&gt; tokens are byte tokens.
/// </summary>
internal static class Llama2cTokenizerLoader
{
    public static VocabSpec Load(string path, int vocabSize)
    {
        if (vocabSize <= 0) throw new ModelFormatException(path, $"vocabulary size {vocabSize} is not positive");
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot read: {e.Message}", e);
        }
        int pos = 0;
        int ReadInt()
        {
            if (pos + 4 > data.Length) throw new ModelFormatException(path, $"truncated at byte {pos}");
            int v = BitConverter.ToInt32(data, pos);
            pos += 4;
            return v;
        }
        int maxLen = ReadInt();
        if (maxLen <= 0 || maxLen > 1 << 16) throw new ModelFormatException(path, $"max token length {maxLen} is implausible");

        var tokens = new string[vocabSize];
        var scores = new float[vocabSize];
        var attrs = new TokenAttributes[vocabSize];
        var decoder = new UTF8Encoding(false, true);
        for (int i = 0; i < vocabSize; i++)
        {
            scores[i] = BitConverter.Int32BitsToSingle(ReadInt());
            int len = ReadInt();
            if (len < 0 || len > maxLen || pos + len > data.Length)
                throw new ModelFormatException(path, $"token {i} has length {len} (max {maxLen}, {data.Length - pos} bytes left)");
            string text;
            try { text = decoder.GetString(data, pos, len); }
            catch (DecoderFallbackException) { throw new ModelFormatException(path, $"token {i} is not valid UTF-8"); }
            pos += len;
            tokens[i] = text.Replace(' ', '\u2581');
            attrs[i] = TokenAttributes.Normal;
            if (IsByteToken(text)) attrs[i] = TokenAttributes.Byte;
        }
        tokens[0] = tokens[0].Trim('\n'); attrs[0] = TokenAttributes.Unknown;
        if (vocabSize > 1) { tokens[1] = "<s>"; attrs[1] = TokenAttributes.Control; }
        if (vocabSize > 2) { tokens[2] = "</s>"; attrs[2] = TokenAttributes.Control; }

        var spec = new VocabSpec { Source = path, Kind = TokenizerKind.Spm, Tokens = tokens, Scores = scores, Attributes = attrs, ModelName = "llama2.c" };
        spec.ApplyDefaults();
        spec.Bos = vocabSize > 1 ? 1 : -1;
        spec.Eos = vocabSize > 2 ? 2 : -1;
        return spec;
    }

    private static bool IsByteToken(string t) =>
        t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal) && t[5] == '>' && Uri.IsHexDigit(t[3]) && Uri.IsHexDigit(t[4]);
}
