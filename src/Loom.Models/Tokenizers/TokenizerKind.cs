namespace Loom.Models.Tokenizers;

/// <summary>The tokenizer kinds llama.cpp implements that Loom supports.</summary>
public enum TokenizerKind
{
    /// <summary>SentencePiece-style BPE by piece score with byte fallback (<c>tokenizer.ggml.model = llama</c>).</summary>
    Spm,
    /// <summary>Byte-level BPE by merge rank after a regex pre-tokenizer (<c>gpt2</c>).</summary>
    Bpe,
    /// <summary>WordPiece, greedy longest match (<c>bert</c>).</summary>
    Wpm,
}
