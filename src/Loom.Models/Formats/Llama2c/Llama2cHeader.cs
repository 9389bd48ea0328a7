using System.Buffers.Binary;

namespace Loom.Models.Formats.Llama2c;

/// <summary>
/// The header of a llama2.c checkpoint. Version 0 is the legacy bare 7-int header; versions 1 (fp32)
/// and 2 (Q8_0) are export.py's "ak42" files with a 256-byte header.
/// </summary>
internal sealed record Llama2cHeader(int Version, int Dim, int HiddenDim, int Layers, int Heads, int KvHeads,
    int VocabSize, int SeqLen, bool SharedClassifier, int GroupSize, int DataOffset)
{
    public const uint Magic = 0x616b3432; // "ak42"
    public const int LegacyHeaderBytes = 7 * 4;
    public const int ExportHeaderBytes = 256;

    private const int MaxWidth = Architectures.ModelLimits.MaxWidth, MaxLayers = Architectures.ModelLimits.MaxLayers,
        MaxVocab = Architectures.ModelLimits.MaxVocab, MaxSeqLen = Architectures.ModelLimits.MaxContext;

    public int HeadDim => Dim / Heads;
    public int KvDim => HeadDim * KvHeads;

    /// <summary>Parses the header from the file's first bytes (<paramref name="head"/>, up to 256 of them).</summary>
    public static Llama2cHeader Parse(string path, ReadOnlySpan<byte> head)
    {
        byte[] bytes = head.ToArray();
        int I32(int offset) => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset));
        if (head.Length >= 8 && BinaryPrimitives.ReadUInt32LittleEndian(head) == Magic)
        {
            int version = I32(4);
            if (version is not (1 or 2)) throw new ModelFormatException(path, $"unsupported llama2.c export version {version}");
            if (head.Length < ExportHeaderBytes) throw new ModelFormatException(path, $"truncated: the {ExportHeaderBytes}-byte header needs a longer file");
            // Layout written by export.py: magic, version, 7 ints, shared-classifier byte, then (v2) the group size, unaligned.
            byte shared = head[36];
            if (shared > 1) throw new ModelFormatException(path, $"shared-classifier flag {shared}");
            int gs = version == 2 ? I32(37) : 0;
            var h = new Llama2cHeader(version, I32(8), I32(12), I32(16), I32(20), I32(24), I32(28), I32(32), shared == 1, gs, ExportHeaderBytes);
            h.Validate(path);
            if (version == 2 && (gs <= 0 || gs > MaxWidth)) throw new ModelFormatException(path, $"quantization group size {gs}");
            return h;
        }
        if (head.Length < LegacyHeaderBytes) throw new ModelFormatException(path, $"file of {head.Length} bytes is too short for a llama2.c header");
        // Legacy files say "separate classifier" by a negative vocabulary size.
        int vocab = I32(20);
        var legacy = new Llama2cHeader(0, I32(0), I32(4), I32(8), I32(12), I32(16), vocab == int.MinValue ? 0 : Math.Abs(vocab), I32(24),
            vocab > 0, 0, LegacyHeaderBytes);
        legacy.Validate(path);
        return legacy;
    }

    private void Validate(string path)
    {
        void Check(bool ok, string problem) { if (!ok) throw new ModelFormatException(path, $"not a llama2.c checkpoint, or corrupt: {problem}"); }
        Check(Dim is > 0 and <= MaxWidth, $"dim {Dim}");
        Check(HiddenDim is > 0 and <= MaxWidth, $"hidden_dim {HiddenDim}");
        Check(Layers is > 0 and <= MaxLayers, $"n_layers {Layers}");
        Check(Heads > 0 && Heads <= Dim && Dim % Heads == 0, $"n_heads {Heads} for dim {Dim}");
        Check(KvHeads > 0 && KvHeads <= Heads && Heads % KvHeads == 0, $"n_kv_heads {KvHeads} for {Heads} heads");
        Check(HeadDim % 2 == 0, $"head size {HeadDim} is odd");
        Check(VocabSize is > 0 and <= MaxVocab, $"vocab_size {VocabSize}");
        Check(SeqLen is > 0 and <= MaxSeqLen, $"seq_len {SeqLen}");
    }
}
